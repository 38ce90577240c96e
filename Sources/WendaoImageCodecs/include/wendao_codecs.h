#ifndef WENDAO_CODECS_H
#define WENDAO_CODECS_H
#include <stddef.h>

/* Image decoding for OCR through libpng, libjpeg-turbo and libtiff. Every function checks the size in
 * the header against max_pixels before allocating pixel memory, never prints, and returns:
 * 0 decoded, 1 unreadable (damaged, truncated), 2 too large, 3 unsupported. On success *rgb holds
 * width*height*3 bytes (free with wendao_codecs_free). err receives a short reason. */

int wendao_decode_png(const unsigned char *data, size_t size, long long max_pixels, int *width, int *height,
                      unsigned char **rgb, char *err, size_t errlen);

/* *warnings counts libjpeg's warnings (a truncated file decodes with grey at the end and warnings). */
int wendao_decode_jpeg(const unsigned char *data, size_t size, long long max_pixels, int *width, int *height,
                       unsigned char **rgb, int *warnings, char *err, size_t errlen);

/* Page `page` (0-based) of a TIFF file; *pages receives the number of pages. */
int wendao_decode_tiff(const char *path, int page, long long max_pixels, int *width, int *height,
                       unsigned char **rgb, int *pages, char *err, size_t errlen);

/* Encoding, for pictures Wendao rewrites (try-on inputs turned upright, gallery thumbnails). rgb holds
 * width*height*3 bytes. Returns 0 and *out (free with wendao_codecs_free) of *outsize bytes, or 1 with a
 * reason in err. No EXIF or other metadata is written. quality is 1-100. */
int wendao_encode_jpeg(const unsigned char *rgb, int width, int height, int quality, unsigned char **out,
                       size_t *outsize, char *err, size_t errlen);

int wendao_encode_png(const unsigned char *rgb, int width, int height, unsigned char **out, size_t *outsize,
                      char *err, size_t errlen);

/* Box-filter (area average) reduction of an RGB image to out_width*out_height (each at most the source's
 * side); dst holds out_width*out_height*3 bytes. Returns 0, or 1 when the sizes are not a reduction. */
int wendao_reduce_rgb(const unsigned char *src, int width, int height, unsigned char *dst, int out_width,
                      int out_height);

void wendao_codecs_free(void *p);

#endif
