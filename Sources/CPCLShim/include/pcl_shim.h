// A small C ABI over the parts of PCL that Foresight uses. Every exception is caught inside;
// callers pass float buffers laid out as x, y, z, pad (16 bytes per point, like pcl::PointXYZ).
#ifndef FORESIGHT_PCL_SHIM_H
#define FORESIGHT_PCL_SHIM_H
#ifdef __cplusplus
extern "C" {
#endif

/// Returns the PCL version the shim was built against, as MAJOR*10000 + MINOR*100 + PATCH.
int fs_pcl_version(void);

#ifdef __cplusplus
}
#endif
#endif
