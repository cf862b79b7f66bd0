import ForesightWire

extension RadarInput {
    /// The radar input carried by a wire `RadarCube`.
    public init(_ cube: RadarCube) {
        self.init(data: cube.data, rx: cube.rx, samples: cube.samples, chirps: cube.chirps, type: cube.dtype)
    }
}

extension LidarInput {
    /// The LiDAR input carried by a wire `PointCloud`.
    public init(_ cloud: PointCloud) {
        self.init(data: cloud.data, count: cloud.count, fields: cloud.fields)
    }
}

extension GnssInput {
    /// The GNSS input carried by a wire `GnssFix`, or nil when the fix is unusable (no fix or
    /// non-finite coordinates), so the frame simply lacks GNSS.
    public init?(_ fix: GnssFix) {
        guard fix.isUsable else { return nil }
        self.init(latitude: fix.lat, longitude: fix.lon)
    }
}

extension BeamPowerInput {
    /// The beam power input carried by a wire `BeamPower`.
    public init(_ message: BeamPower) {
        self.init(power: message.power, unit: message.unit)
    }
}

extension RawFrame {
    /// A frame with a bare header assembled from decoded wire messages (any may be absent).
    public init(seq: UInt64, stamp: Int64, image: Image? = nil, radar: RadarCube? = nil, cloud: PointCloud? = nil,
                fix: GnssFix? = nil, beamPower: BeamPower? = nil) {
        self.init(header: FrameHeader(seq: seq, stamp: stamp), image: image, radar: radar, cloud: cloud, fix: fix, beamPower: beamPower)
    }

    /// A frame assembled from decoded wire messages (any may be absent) under `header`.
    public init(header: FrameHeader, image: Image? = nil, radar: RadarCube? = nil, cloud: PointCloud? = nil,
                fix: GnssFix? = nil, beamPower: BeamPower? = nil) {
        self.init(header: header, camera: image, radar: radar.map(RadarInput.init),
                  lidar: cloud.map(LidarInput.init), gnss: fix.flatMap(GnssInput.init),
                  beamPower: beamPower.map(BeamPowerInput.init))
    }
}
