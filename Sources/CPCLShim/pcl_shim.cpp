#include "pcl_shim.h"
#include <pcl/pcl_config.h>

extern "C" int fs_pcl_version(void) {
    return PCL_MAJOR_VERSION * 10000 + PCL_MINOR_VERSION * 100 + PCL_REVISION_VERSION;
}
