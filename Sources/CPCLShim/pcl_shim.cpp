#include "pcl_shim.h"
#include <pcl/pcl_config.h>
#include <pcl/point_cloud.h>
#include <pcl/point_types.h>
#include <pcl/common/common.h>
#include <pcl/filters/crop_box.h>
#include <pcl/filters/voxel_grid.h>
#include <pcl/filters/statistical_outlier_removal.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdint>
#include <exception>

extern "C" int fs_pcl_version(void) {
    return PCL_MAJOR_VERSION * 10000 + PCL_MINOR_VERSION * 100 + PCL_REVISION_VERSION;
}

namespace {
using Cloud = pcl::PointCloud<pcl::PointXYZ>;

int fail(char *err, size_t err_len, int code, const char *message) {
    if (err && err_len > 0) std::snprintf(err, err_len, "%s", message);
    return code;
}
}  // namespace

extern "C" int fs_pcl_filter(const float *points, size_t count, const fs_pcl_filter_params *params,
                             float *out, size_t capacity, size_t *out_count, char *err, size_t err_len) {
    try {
        if (!params || !out_count || (count > 0 && (!points || !out))) {
            return fail(err, err_len, FS_PCL_BAD_ARGUMENT, "null pointer argument");
        }
        *out_count = 0;
        Cloud::Ptr cloud(new Cloud);
        cloud->resize(count);
        for (size_t i = 0; i < count; ++i) {
            (*cloud)[i].x = points[4 * i];
            (*cloud)[i].y = points[4 * i + 1];
            (*cloud)[i].z = points[4 * i + 2];
        }
        cloud->width = static_cast<std::uint32_t>(cloud->size());
        cloud->height = 1;
        cloud->is_dense = false;

        if (params->use_crop_box && !cloud->empty()) {
            pcl::CropBox<pcl::PointXYZ> crop;
            crop.setMin(Eigen::Vector4f(params->crop_min[0], params->crop_min[1], params->crop_min[2], 1.0f));
            crop.setMax(Eigen::Vector4f(params->crop_max[0], params->crop_max[1], params->crop_max[2], 1.0f));
            crop.setInputCloud(cloud);
            Cloud::Ptr kept(new Cloud);
            crop.filter(*kept);
            cloud = kept;
        }
        if (params->use_voxel_grid && !cloud->empty()) {
            const float *leaf = params->leaf;
            if (!(leaf[0] > 0 && leaf[1] > 0 && leaf[2] > 0)) {
                return fail(err, err_len, FS_PCL_BAD_ARGUMENT, "voxel leaf sizes must be positive");
            }
            // VoxelGrid silently returns its input when voxel indices would overflow int32: detect it.
            Eigen::Vector4f lo, hi;
            pcl::getMinMax3D(*cloud, lo, hi);
            double cells = 1.0;
            for (int a = 0; a < 3; ++a) cells *= std::floor((hi[a] - lo[a]) / leaf[a]) + 1.0;
            if (!(cells < static_cast<double>(INT32_MAX))) {
                return fail(err, err_len, FS_PCL_VOXEL_OVERFLOW,
                            "voxel leaf too small for the cloud's extent (voxel index would overflow); enlarge the leaf or crop first");
            }
            pcl::VoxelGrid<pcl::PointXYZ> grid;
            grid.setLeafSize(leaf[0], leaf[1], leaf[2]);
            grid.setInputCloud(cloud);
            Cloud::Ptr kept(new Cloud);
            grid.filter(*kept);
            cloud = kept;
        }
        if (params->use_outlier_removal && !cloud->empty()) {
            if (params->mean_k < 1 || !(params->stddev_mul >= 0)) {
                return fail(err, err_len, FS_PCL_BAD_ARGUMENT, "outlier removal needs mean_k >= 1 and stddev_mul >= 0");
            }
            pcl::StatisticalOutlierRemoval<pcl::PointXYZ> sor;
            sor.setMeanK(params->mean_k);
            sor.setStddevMulThresh(params->stddev_mul);
            sor.setInputCloud(cloud);
            Cloud::Ptr kept(new Cloud);
            sor.filter(*kept);
            cloud = kept;
        }
        if (cloud->size() > capacity) {
            return fail(err, err_len, FS_PCL_CAPACITY, "output buffer too small");
        }
        for (size_t i = 0; i < cloud->size(); ++i) {
            out[4 * i] = (*cloud)[i].x;
            out[4 * i + 1] = (*cloud)[i].y;
            out[4 * i + 2] = (*cloud)[i].z;
            out[4 * i + 3] = 0.0f;
        }
        *out_count = cloud->size();
        return FS_PCL_OK;
    } catch (const std::exception &e) {
        return fail(err, err_len, FS_PCL_EXCEPTION, e.what());
    } catch (...) {
        return fail(err, err_len, FS_PCL_EXCEPTION, "unknown C++ exception in PCL");
    }
}
