import ForesightSite
import ForesightWire

/// One message ready for the bus: topic and MessagePack payload.
public struct SimWireMessage: Sendable, Equatable {
    /// The topic (the message type's default topic).
    public var topic: String
    /// The MessagePack payload.
    public var payload: [UInt8]
}

extension Simulator {
    /// The protocol messages of an event (three for truth, four with `link.channel_truth`, one otherwise), with the site's
    /// frame ids. Truth messages use the frame `site` (positions are in the site frame).
    public func wireMessages(for event: SimEvent) -> [SimWireMessage] {
        func header(_ frame: String) -> Header { Header(stamp: event.stamp, seq: event.seq, frameID: frame) }
        func message<M: WireMessage>(_ m: M) -> SimWireMessage {
            SimWireMessage(topic: M.messageType.defaultTopic, payload: m.encoded())
        }
        switch event.payload {
        case .truth(let truth):
            var messages = [
                message(TruthUE(header: header("site"), east: truth.east, north: truth.north, velocityEast: truth.velocityEast,
                                velocityNorth: truth.velocityNorth, heading: truth.heading)),
                message(TruthBeam(header: header(site.beamPower.frameID), best: truth.bestBeam, power: truth.power)),
                message(TruthBlockage(header: header("site"), blocked: truth.blocked, paths: truth.paths.map(\.name),
                                      pathsBlocked: truth.paths.map(\.blocked))),
            ]
            if scenario.link.channelTruth {
                let degrees = 180 / Double.pi
                messages.append(message(TruthChannel(
                    header: header(site.beamPower.frameID), paths: truth.paths.map(\.name), delay: truth.paths.map(\.delay),
                    azimuthDeg: truth.paths.map { $0.azimuth * degrees }, elevationDeg: truth.paths.map { $0.elevation * degrees },
                    gainRe: truth.paths.map(\.gain.re), gainIm: truth.paths.map(\.gain.im), blocked: truth.paths.map(\.blocked),
                    ueAntenna: [truth.ueAntenna.x, truth.ueAntenna.y, truth.ueAntenna.z],
                    vehicleIDs: truth.vehicles.map(\.id), vehicleIsUE: truth.vehicles.map(\.isUE),
                    vehicleBoxes: truth.vehicles.flatMap { [$0.east, $0.north, $0.heading, $0.size.x, $0.size.y, $0.size.z] })))
            }
            return messages
        case .beamPower(let power):
            let unit: PowerUnit = site.beamPower.unit == .dbm ? .dbm : .mw
            return [message(BeamPower(header: header(site.beamPower.frameID), power: power, unit: unit))]
        case .camera(let jpeg):
            return [message(Image(header: header(site.camera.frameID), width: site.camera.width, height: site.camera.height,
                                  encoding: .jpeg, data: jpeg))]
        case .radar(let cube):
            return [message(RadarCube(header: header(site.radar.frameID), rx: site.radar.rx, samples: site.radar.samples,
                                      chirps: site.radar.chirps, dtype: .cf32, data: PackedArray.bytes(cube)))]
        case .lidar(let points):
            return [message(PointCloud(header: header(site.lidar.frameID), fields: ["x", "y", "z", "intensity"], values: points))]
        case .gnss(let fix):
            return [message(GnssFix(header: header(site.gnss.frameID), lat: fix.lat, lon: fix.lon, alt: fix.alt,
                                    hdop: fix.hdop, fix: .threeD))]
        }
    }

    /// The next event's protocol messages (see `wireMessages(for:)`), with the event.
    public mutating func nextMessages() throws(SimError) -> (event: SimEvent, messages: [SimWireMessage]) {
        let event = try next()
        return (event, wireMessages(for: event))
    }
}
