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

void wendao_codecs_free(void *p);

#endif
