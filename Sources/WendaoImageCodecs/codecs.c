#include "wendao_codecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <tiffio.h>

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) {
        strncpy(err, msg, errlen - 1);
        err[errlen - 1] = 0;
    }
}

void wendao_codecs_free(void *p) { free(p); }

int wendao_decode_png(const unsigned char *data, size_t size, long long max_pixels, int *width, int *height,
                      unsigned char **rgb, char *err, size_t errlen) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        set_err(err, errlen, image.message[0] ? image.message : "damaged PNG");
        png_image_free(&image);
        return 1;
    }
    if (image.width == 0 || image.height == 0) {
        png_image_free(&image);
        set_err(err, errlen, "PNG has no pixels");
        return 1;
    }
    if ((long long)image.width * (long long)image.height > max_pixels) {
        *width = (int)(image.width > 0x7fffffff ? 0x7fffffff : image.width);
        *height = (int)(image.height > 0x7fffffff ? 0x7fffffff : image.height);
        png_image_free(&image);
        set_err(err, errlen, "too many pixels");
        return 2;
    }
    image.format = PNG_FORMAT_RGB;
    size_t bytes = (size_t)image.width * image.height * 3;
    unsigned char *buf = malloc(bytes);
    if (!buf) {
        png_image_free(&image);
        set_err(err, errlen, "out of memory");
        return 2;
    }
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&image, &white, buf, 0, NULL)) {
        set_err(err, errlen, image.message[0] ? image.message : "damaged PNG");
        free(buf);
        png_image_free(&image);
        return 1;
    }
    *width = (int)image.width;
    *height = (int)image.height;
    *rgb = buf;
    return 0;
}

struct jpeg_failure {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr cinfo) {
    struct jpeg_failure *f = (struct jpeg_failure *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->message);
    longjmp(f->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level) {
    if (level < 0) cinfo->err->num_warnings++;
}

int wendao_decode_jpeg(const unsigned char *data, size_t size, long long max_pixels, int *width, int *height,
                       unsigned char **rgb, int *warnings, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_failure failure;
    unsigned char *volatile buf = NULL;
    unsigned char *volatile row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&failure.mgr);
    failure.mgr.error_exit = jpeg_fail;
    failure.mgr.emit_message = jpeg_quiet;
    failure.message[0] = 0;
    if (setjmp(failure.jump)) {
        set_err(err, errlen, failure.message[0] ? failure.message : "damaged JPEG");
        free(buf);
        free(row);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if ((long long)cinfo.image_width * (long long)cinfo.image_height > max_pixels) {
        *width = (int)cinfo.image_width;
        *height = (int)cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        set_err(err, errlen, "too many pixels");
        return 2;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, comps = cinfo.output_components;
    if (w <= 0 || h <= 0 || (comps != 3 && comps != 4)) {
        jpeg_destroy_decompress(&cinfo);
        set_err(err, errlen, "unsupported JPEG colour layout");
        return 3;
    }
    buf = malloc((size_t)w * h * 3);
    row = malloc((size_t)w * comps);
    if (!buf || !row) {
        free(buf);
        free(row);
        jpeg_destroy_decompress(&cinfo);
        set_err(err, errlen, "out of memory");
        return 2;
    }
    /* Adobe CMYK JPEGs store inverted values. */
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        unsigned char *dst = buf + (size_t)y * w * 3;
        if (comps == 3) {
            memcpy(dst, row, (size_t)w * 3);
        } else {
            for (int x = 0; x < w; x++) {
                int c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) {
                    c = 255 - c;
                    m = 255 - m;
                    yy = 255 - yy;
                    k = 255 - k;
                }
                dst[3 * x] = (unsigned char)(c * k / 255);
                dst[3 * x + 1] = (unsigned char)(m * k / 255);
                dst[3 * x + 2] = (unsigned char)(yy * k / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    *warnings = (int)failure.mgr.num_warnings;
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *width = w;
    *height = h;
    *rgb = buf;
    return 0;
}

int wendao_decode_tiff(const char *path, int page, long long max_pixels, int *width, int *height,
                       unsigned char **rgb, int *pages, char *err, size_t errlen) {
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    TIFF *tif = TIFFOpen(path, "r");
    if (!tif) {
        set_err(err, errlen, "damaged TIFF");
        return 1;
    }
    *pages = (int)TIFFNumberOfDirectories(tif);
    if (page < 0 || page >= *pages || !TIFFSetDirectory(tif, (tdir_t)page)) {
        TIFFClose(tif);
        set_err(err, errlen, "TIFF page missing");
        return 1;
    }
    uint32_t w = 0, h = 0;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    if (w == 0 || h == 0) {
        TIFFClose(tif);
        set_err(err, errlen, "TIFF has no pixels");
        return 1;
    }
    if ((long long)w * (long long)h > max_pixels) {
        *width = (int)(w > 0x7fffffff ? 0x7fffffff : w);
        *height = (int)(h > 0x7fffffff ? 0x7fffffff : h);
        TIFFClose(tif);
        set_err(err, errlen, "too many pixels");
        return 2;
    }
    uint32_t *raster = _TIFFmalloc((tmsize_t)w * h * sizeof(uint32_t));
    unsigned char *buf = malloc((size_t)w * h * 3);
    if (!raster || !buf) {
        if (raster) _TIFFfree(raster);
        free(buf);
        TIFFClose(tif);
        set_err(err, errlen, "out of memory");
        return 2;
    }
    if (!TIFFReadRGBAImageOriented(tif, w, h, raster, ORIENTATION_TOPLEFT, 0)) {
        _TIFFfree(raster);
        free(buf);
        TIFFClose(tif);
        set_err(err, errlen, "damaged or unsupported TIFF");
        return 1;
    }
    for (size_t i = 0; i < (size_t)w * h; i++) {
        uint32_t p = raster[i];
        unsigned a = TIFFGetA(p);
        /* Composite on white. */
        buf[3 * i] = (unsigned char)((TIFFGetR(p) * a + 255 * (255 - a)) / 255);
        buf[3 * i + 1] = (unsigned char)((TIFFGetG(p) * a + 255 * (255 - a)) / 255);
        buf[3 * i + 2] = (unsigned char)((TIFFGetB(p) * a + 255 * (255 - a)) / 255);
    }
    _TIFFfree(raster);
    TIFFClose(tif);
    *width = (int)w;
    *height = (int)h;
    *rgb = buf;
    return 0;
}

/* Encoding. The output of libjpeg's memory destination lives in a heap holder, so the buffer it
 * (re)allocates is still known after a longjmp from an error. */
struct jpeg_output {
    unsigned char *buf;
    unsigned long size;
};

int wendao_encode_jpeg(const unsigned char *rgb, int width, int height, int quality, unsigned char **out,
                       size_t *outsize, char *err, size_t errlen) {
    if (!rgb || width <= 0 || height <= 0) {
        set_err(err, errlen, "no pixels to encode");
        return 1;
    }
    struct jpeg_output *volatile output = calloc(1, sizeof(struct jpeg_output));
    if (!output) {
        set_err(err, errlen, "out of memory");
        return 1;
    }
    struct jpeg_compress_struct cinfo;
    struct jpeg_failure failure;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&failure.mgr);
    failure.mgr.error_exit = jpeg_fail;
    failure.mgr.emit_message = jpeg_quiet;
    failure.message[0] = 0;
    if (setjmp(failure.jump)) {
        set_err(err, errlen, failure.message[0] ? failure.message : "JPEG encoding failed");
        jpeg_destroy_compress(&cinfo);
        free(output->buf);
        free(output);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &output->buf, &output->size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[1] = {(JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3)};
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = output->buf;
    *outsize = (size_t)output->size;
    free(output);
    return 0;
}

int wendao_encode_png(const unsigned char *rgb, int width, int height, unsigned char **out, size_t *outsize,
                      char *err, size_t errlen) {
    if (!rgb || width <= 0 || height <= 0) {
        set_err(err, errlen, "no pixels to encode");
        return 1;
    }
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&image, NULL, &size, 0, rgb, 0, NULL)) {
        set_err(err, errlen, image.message[0] ? image.message : "PNG encoding failed");
        png_image_free(&image);
        return 1;
    }
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        png_image_free(&image);
        set_err(err, errlen, "out of memory");
        return 1;
    }
    if (!png_image_write_to_memory(&image, buf, &size, 0, rgb, 0, NULL)) {
        set_err(err, errlen, image.message[0] ? image.message : "PNG encoding failed");
        free(buf);
        png_image_free(&image);
        return 1;
    }
    png_image_free(&image);
    *out = buf;
    *outsize = (size_t)size;
    return 0;
}

int wendao_reduce_rgb(const unsigned char *src, int width, int height, unsigned char *dst, int out_width,
                      int out_height) {
    if (!src || !dst || out_width <= 0 || out_height <= 0 || out_width > width || out_height > height) return 1;
    unsigned long long *sums = calloc((size_t)out_width * 3, sizeof(unsigned long long));
    if (!sums) return 1;
    for (int oy = 0; oy < out_height; oy++) {
        int y0 = (int)((long long)oy * height / out_height);
        int y1 = (int)((long long)(oy + 1) * height / out_height);
        if (y1 <= y0) y1 = y0 + 1;
        memset(sums, 0, (size_t)out_width * 3 * sizeof(unsigned long long));
        for (int y = y0; y < y1; y++) {
            const unsigned char *row = src + (size_t)y * width * 3;
            for (int ox = 0; ox < out_width; ox++) {
                int x0 = (int)((long long)ox * width / out_width);
                int x1 = (int)((long long)(ox + 1) * width / out_width);
                if (x1 <= x0) x1 = x0 + 1;
                unsigned long long r = 0, g = 0, b = 0;
                for (int x = x0; x < x1; x++) {
                    r += row[3 * x];
                    g += row[3 * x + 1];
                    b += row[3 * x + 2];
                }
                sums[3 * ox] += r;
                sums[3 * ox + 1] += g;
                sums[3 * ox + 2] += b;
            }
        }
        for (int ox = 0; ox < out_width; ox++) {
            int x0 = (int)((long long)ox * width / out_width);
            int x1 = (int)((long long)(ox + 1) * width / out_width);
            if (x1 <= x0) x1 = x0 + 1;
            unsigned long long n = (unsigned long long)(x1 - x0) * (unsigned long long)(y1 - y0);
            unsigned char *d = dst + ((size_t)oy * out_width + ox) * 3;
            d[0] = (unsigned char)((sums[3 * ox] + n / 2) / n);
            d[1] = (unsigned char)((sums[3 * ox + 1] + n / 2) / n);
            d[2] = (unsigned char)((sums[3 * ox + 2] + n / 2) / n);
        }
    }
    free(sums);
    return 0;
}
