import ForesightSite

extension GnssProjector {
    /// A projector around the site's geodetic origin (the base station reference), with the
    /// site's Earth radius.
    public init(reference: GeodeticReference) throws(PreprocessError) {
        try self.init(referenceLatitude: reference.latitude, referenceLongitude: reference.longitude,
                      earthRadius: GeodeticReference.earthRadius)
    }
}

extension BeamPowerParameters {
    /// Floor and normalization from the site's beam-power calibration: `none` keeps dBm,
    /// `max` divides linear power by the vector's maximum, `floor` gives dB above the floor.
    public init(calibration: BeamPowerCalibration) {
        self.init()
        floorDBm = Float(calibration.floorDbm)
        switch calibration.normalization {
        case .none: normalization = .none
        case .max: normalization = .linearMax
        case .floor: normalization = .aboveFloor
        }
    }
}

extension FrontEndConfiguration {
    /// The paper's defaults for camera, radar and LiDAR, with the GNSS reference and beam-power
    /// settings taken from the site calibration.
    public init(site: Site) throws(PreprocessError) {
        self.init(gnss: try GnssProjector(reference: site.origin))
        beamPower = BeamPowerParameters(calibration: site.beamPower)
        let r = site.lidar.pose.rotation
        lidar.sitePose = LidarSitePose(rx: SIMD3<Float>(r.x), ry: SIMD3<Float>(r.y), rz: SIMD3<Float>(r.z),
                                       origin: SIMD3<Float>(site.lidar.pose.position))
    }
}
