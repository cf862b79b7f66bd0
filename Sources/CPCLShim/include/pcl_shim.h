// A small C ABI over the parts of PCL that Foresight uses. Every exception is caught inside;
// callers pass float buffers laid out as x, y, z, pad (16 bytes per point, like pcl::PointXYZ).
#ifndef FORESIGHT_PCL_SHIM_H
#define FORESIGHT_PCL_SHIM_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Returns the PCL version the shim was built against, as MAJOR*10000 + MINOR*100 + PATCH.
int fs_pcl_version(void);

/// Which filters to run, in this order: crop box, voxel grid, statistical outlier removal.
typedef struct fs_pcl_filter_params {
    /// Non-zero: keep only points inside [crop_min, crop_max] (inclusive, per axis).
    int use_crop_box;
    float crop_min[3];
    float crop_max[3];
    /// Non-zero: replace the points in each voxel of size leaf (x, y, z metres) by their centroid.
    int use_voxel_grid;
    float leaf[3];
    /// Non-zero: remove points whose mean distance to their mean_k neighbours exceeds
    /// (global mean + stddev_mul * global standard deviation).
    int use_outlier_removal;
    int mean_k;
    double stddev_mul;
} fs_pcl_filter_params;

/// Status codes of fs_pcl_filter.
enum {
    FS_PCL_OK = 0,
    FS_PCL_BAD_ARGUMENT = 1,
    FS_PCL_VOXEL_OVERFLOW = 2,
    FS_PCL_EXCEPTION = 3,
    FS_PCL_CAPACITY = 4
};

/// Filters `count` points (16 bytes each: x, y, z, pad) into `out` (room for `capacity` points),
/// writing the number kept to `*out_count`. Returns FS_PCL_OK or an error code, in which case a
/// NUL-terminated explanation is written to `err` (size `err_len`). Never throws.
int fs_pcl_filter(const float *points, size_t count, const fs_pcl_filter_params *params,
                  float *out, size_t capacity, size_t *out_count, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
