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

/// `truth/blockage`: whether the line of sight between the array and the UE is blocked.
public struct TruthBlockage: WireMessage, Equatable {
    public static let messageType = MessageType.truthBlockage
    public var header: Header
    /// True when a vehicle body intersects the line of sight.
    public var blocked: Bool

    /// Creates a truth sample.
    public init(header: Header, blocked: Bool) {
        self.header = header
        self.blocked = blocked
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        blocked = try fields.bool("blocked")
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("blocked", blocked)
        map.finish(into: &writer)
    }
}
