/// `truth/ue`: the UE's true state in the site frame (simulator and annotated bags only).
public struct TruthUE: WireMessage, Equatable {
    public static let messageType = MessageType.truthUE
    public var header: Header
    /// East of the site origin, metres.
    public var east: Double
    /// North of the site origin, metres.
    public var north: Double
    /// Velocity east, m/s.
    public var velocityEast: Double
    /// Velocity north, m/s.
    public var velocityNorth: Double
    /// Heading, radians counter-clockwise from east (the direction of travel).
    public var heading: Double

    /// Creates a truth sample.
    public init(header: Header, east: Double, north: Double, velocityEast: Double, velocityNorth: Double, heading: Double) {
        self.header = header
        self.east = east
        self.north = north
        self.velocityEast = velocityEast
        self.velocityNorth = velocityNorth
        self.heading = heading
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        east = try fields.double("east")
        north = try fields.double("north")
        velocityEast = try fields.double("velocity_east")
        velocityNorth = try fields.double("velocity_north")
        heading = try fields.double("heading")
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("east", east)
        map.entry("north", north)
        map.entry("velocity_east", velocityEast)
        map.entry("velocity_north", velocityNorth)
        map.entry("heading", heading)
        map.finish(into: &writer)
    }
}

/// `truth/beam`: the best beam and the noiseless per-beam power (linear mW).
public struct TruthBeam: WireMessage, Equatable {
    public static let messageType = MessageType.truthBeam
    public var header: Header
    /// Index of the best beam (argmax of `power`).
    public var best: Int
    /// Noiseless received power of every beam, mW.
    public var power: [Float]

    /// Creates a truth sample.
    public init(header: Header, best: Int, power: [Float]) {
        self.header = header
        self.best = best
        self.power = power
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        power = try BeamPower.decodeVector(fields, key: "power", unit: .mw, limits: limits)
        best = try fields.count("best", max: power.count - 1)
    }

    public func encode(into writer: inout MessagePackWriter) {
        writer.writeMapHeader(count: 8)
        header.write(to: &writer)
        writer.write("best"); writer.write(best)
        writer.write("power"); writer.writeBinary(PackedArray.bytes(power))
        writer.write("dtype"); writer.write("f32")
        writer.write("shape"); writer.writeArrayHeader(count: 1); writer.write(power.count)
        writer.write("unit"); writer.write("mw")
    }
}

/// `truth/blockage`: whether the line of sight between the array and the UE is blocked and,
/// optionally (simulator), which of the individual propagation paths are blocked.
public struct TruthBlockage: WireMessage, Equatable {
    public static let messageType = MessageType.truthBlockage
    public var header: Header
    /// True when a vehicle body (or a building) intersects the line of sight.
    public var blocked: Bool
    /// Names of the propagation paths that reach the array (`los`, `ground`, `facade:1`,
    /// `vehicle:17`, `facade:0+ground`, ...); empty when the sender does not know them.
    public var paths: [String]
    /// Per entry of `paths`: whether a vehicle body (for `los` also a building) crosses it.
    public var pathsBlocked: [Bool]

    /// Creates a truth sample.
    public init(header: Header, blocked: Bool, paths: [String] = [], pathsBlocked: [Bool] = []) {
        self.header = header
        self.blocked = blocked
        self.paths = paths
        self.pathsBlocked = pathsBlocked
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        blocked = try fields.bool("blocked")
        paths = fields.has("paths") ? try fields.stringArray("paths") : []
        pathsBlocked = fields.has("paths_blocked") ? try fields.boolArray("paths_blocked") : []
        guard paths.count == pathsBlocked.count else {
            throw WireError(field: "paths_blocked", reason: .shapeMismatch,
                            detail: "\(pathsBlocked.count) flags for \(paths.count) paths; send one flag per path")
        }
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("blocked", blocked)
        if !paths.isEmpty {
            map.entry("paths", strings: paths)
            map.entry("paths_blocked") { w in w.writeArrayHeader(count: pathsBlocked.count); for b in pathsBlocked { w.write(b) } }
        }
        map.finish(into: &writer)
    }
}

/// `truth/channel` (simulator, optional): every propagation path from the UE antenna to the
/// array's reference point, and the vehicle bodies of the scene, so that the paths can be studied
/// or recomputed by another tool.
public struct TruthChannel: WireMessage, Equatable {
    public static let messageType = MessageType.truthChannel
    public var header: Header
    /// Path names (see `TruthBlockage.paths`).
    public var paths: [String]
    /// Propagation delay of each path, s.
    public var delay: [Double]
    /// Arrival azimuth in the array's body frame, degrees (positive left of boresight).
    public var azimuthDeg: [Double]
    /// Arrival elevation in the array's body frame, degrees.
    public var elevationDeg: [Double]
    /// Complex amplitude at the array's reference point, real part (power on one element = P_tx·|a|²).
    public var gainRe: [Double]
    /// Complex amplitude, imaginary part.
    public var gainIm: [Double]
    /// Whether a vehicle body (for `los` also a building) crosses the path.
    public var blocked: [Bool]
    /// UE antenna position `[east, north, up]`, site frame, metres.
    public var ueAntenna: [Double]
    /// Vehicle ids (the UE's included).
    public var vehicleIDs: [Int]
    /// Whether each vehicle is the UE.
    public var vehicleIsUE: [Bool]
    /// Six numbers per vehicle: east, north (footprint centre, m), heading (rad, counter-clockwise
    /// from east), length, width, height (m).
    public var vehicleBoxes: [Double]

    /// Creates a channel truth sample.
    public init(header: Header, paths: [String], delay: [Double], azimuthDeg: [Double], elevationDeg: [Double],
                gainRe: [Double], gainIm: [Double], blocked: [Bool], ueAntenna: [Double],
                vehicleIDs: [Int], vehicleIsUE: [Bool], vehicleBoxes: [Double]) {
        self.header = header
        self.paths = paths
        self.delay = delay
        self.azimuthDeg = azimuthDeg
        self.elevationDeg = elevationDeg
        self.gainRe = gainRe
        self.gainIm = gainIm
        self.blocked = blocked
        self.ueAntenna = ueAntenna
        self.vehicleIDs = vehicleIDs
        self.vehicleIsUE = vehicleIsUE
        self.vehicleBoxes = vehicleBoxes
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        paths = try fields.stringArray("paths")
        delay = try fields.doubleArray("delay_s")
        azimuthDeg = try fields.doubleArray("azimuth_deg")
        elevationDeg = try fields.doubleArray("elevation_deg")
        gainRe = try fields.doubleArray("gain_re")
        gainIm = try fields.doubleArray("gain_im")
        blocked = try fields.boolArray("blocked")
        ueAntenna = try fields.doubleArray("ue_antenna")
        vehicleIDs = try fields.countArray("vehicle_ids")
        vehicleIsUE = try fields.boolArray("vehicle_is_ue")
        vehicleBoxes = try fields.doubleArray("vehicle_boxes")
        for (key, count) in [("delay_s", delay.count), ("azimuth_deg", azimuthDeg.count), ("elevation_deg", elevationDeg.count),
                             ("gain_re", gainRe.count), ("gain_im", gainIm.count), ("blocked", blocked.count)] where count != paths.count {
            throw WireError(field: key, reason: .shapeMismatch, detail: "\(count) values for \(paths.count) paths")
        }
        guard ueAntenna.count == 3 else {
            throw WireError(field: "ue_antenna", reason: .shapeMismatch, detail: "expected [east, north, up], got \(ueAntenna.count) values")
        }
        guard vehicleIsUE.count == vehicleIDs.count, vehicleBoxes.count == 6 * vehicleIDs.count else {
            throw WireError(field: "vehicle_boxes", reason: .shapeMismatch,
                            detail: "\(vehicleIDs.count) vehicles need as many vehicle_is_ue flags and 6 numbers each in vehicle_boxes")
        }
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("paths", strings: paths)
        map.entry("delay_s", doubles: delay)
        map.entry("azimuth_deg", doubles: azimuthDeg)
        map.entry("elevation_deg", doubles: elevationDeg)
        map.entry("gain_re", doubles: gainRe)
        map.entry("gain_im", doubles: gainIm)
        map.entry("blocked") { w in w.writeArrayHeader(count: blocked.count); for b in blocked { w.write(b) } }
        map.entry("ue_antenna", doubles: ueAntenna)
        map.entry("vehicle_ids", ints: vehicleIDs)
        map.entry("vehicle_is_ue") { w in w.writeArrayHeader(count: vehicleIsUE.count); for b in vehicleIsUE { w.write(b) } }
        map.entry("vehicle_boxes", doubles: vehicleBoxes)
        map.finish(into: &writer)
    }
}
