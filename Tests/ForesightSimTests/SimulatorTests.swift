import ForesightSim
import ForesightSite
import ForesightWire
import Foundation
import Testing

@Suite struct SimulatorTests {
    static func run(seed: UInt64, events: Int) throws -> [SimEvent] {
        var sim = try Simulator(site: try Fixtures.smallSite(), scenario: try Fixtures.scenario(), seed: seed)
        return try (0..<events).map { _ in try sim.next() }
    }

    @Test func sameSeedGivesIdenticalEventsAndOtherSeedsDiffer() throws {
        let a = try Self.run(seed: 42, events: 60)
        let b = try Self.run(seed: 42, events: 60)
        #expect(a == b)
        let c = try Self.run(seed: 43, events: 60)
        #expect(a != c)
    }

    @Test func eventsAreInTimeOrderAtTheConfiguredRates() throws {
        let scenario = try Fixtures.scenario()
        let events = try Self.run(seed: 5, events: 300)
        for (x, y) in zip(events, events.dropFirst()) { #expect(x.stamp <= y.stamp) }
        #expect(events[0].stamp >= scenario.startTimeNs)
        var bySensor: [Modality: [SimEvent]] = [:]
        for event in events { bySensor[event.sensor, default: []].append(event) }
        #expect(Set(bySensor.keys) == Set(Modality.allCases))
        for (kind, list) in bySensor {
            let timing = try #require(scenario.timing[kind])
            let stamps = list.filter { if case .truth = $0.payload { return false } else { return true } }
            for (x, y) in zip(stamps, stamps.dropFirst()) {
                #expect(y.seq > x.seq)
                // consecutive stamps: a whole number of periods apart, within the jitter bound
                let gap = Double(y.stamp - x.stamp) / 1e9
                let periods = (Double(y.seq - x.seq)) / timing.rateHz
                #expect(abs(gap - periods) <= 6 * timing.jitter + 1e-9, "\(kind): gap \(gap) for \(y.seq - x.seq) periods")
            }
        }
        // truth is published at every beam-power tick, with consecutive seq
        let truths = events.filter { if case .truth = $0.payload { return true } else { return false } }
        for (x, y) in zip(truths, truths.dropFirst()) { #expect(y.seq == x.seq + 1) }
    }

    @Test func truthIsConsistentWithTheWorld() throws {
        let site = try Fixtures.smallSite()
        var sim = try Simulator(site: site, scenario: try Fixtures.scenario(), seed: 9)
        var checked = 0
        while checked < 40 {
            let event = try sim.next()
            guard case .truth(let truth) = event.payload else { continue }
            checked += 1
            #expect(truth.power.count == site.mmwave.beams)
            let best = truth.power.indices.max { truth.power[$0] < truth.power[$1] }
            #expect(best == truth.bestBeam)
            let speed = (truth.velocityEast * truth.velocityEast + truth.velocityNorth * truth.velocityNorth).squareRoot()
            #expect(speed <= 15.01)
            #expect(abs(truth.north - 10.25) < 6)
        }
    }

    @Test func cameraShowsTheVehicleWhereItProjects() throws {
        let site = try Fixtures.site()
        let scenario = try Fixtures.scenario()
        let camera = CameraModel(camera: site.camera, scene: StaticScene(scenario: scenario), quality: 85)
        let car = Fixtures.vehicle(id: 1, east: 3, north: 12, size: SIMD3(4.6, 1.85, 1.5), isUE: true)
        let empty = camera.render(vehicles: [])
        let rgb = camera.render(vehicles: [car])
        #expect(rgb.count == 3 * 960 * 540)
        let centre = try #require(camera.project(car.box.center + SIMD3(0, -car.box.half.y, 0)))
        let index = 3 * (Int(centre.v) * 960 + Int(centre.u))
        // the side facing the camera is red (shaded), and it was not red without the car
        #expect(rgb[index] > 2 * rgb[index + 1] && rgb[index] > 60)
        #expect(!(empty[index] > 2 * empty[index + 1] && empty[index] > 60))
        let jpeg = try camera.encodeJPEG(rgb)
        #expect(jpeg.count > 1000 && jpeg.count < 500_000)
        #expect(jpeg.prefix(2) == [0xFF, 0xD8] && jpeg.suffix(2) == [0xFF, 0xD9])
    }

    @Test func ueDrivesPastWithStopsAndLaneChanges() throws {
        let scenario = try Fixtures.scenario()
        var world = World(scenario: scenario, seed: 21)
        var passes = Set<Int>(), stopped = 0, laneChanging = 0, directions = Set<Double>()
        var t = 0.0
        while t < 600 {
            world.advance(to: t)
            let snapshot = world.snapshot(at: t)
            passes.insert(snapshot.ue.id)
            if abs(snapshot.ue.velocityEast) < 0.05 { stopped += 1 }
            if abs(snapshot.ue.velocityNorth) > 0.1 { laneChanging += 1 }
            directions.insert(snapshot.ue.velocityEast >= 0 ? 1 : -1)
            #expect(snapshot.vehicles.count < 40)
            t += 0.5
        }
        #expect(passes.count > 20)
        #expect(stopped > 10)
        #expect(laneChanging > 10)
        #expect(directions.count == 2)
    }
}

@Suite struct WireTests {
    /// Decodes a payload with the protocol's own validation, by topic.
    static func validate(_ message: SimWireMessage) throws {
        switch message.topic {
        case "sensor/camera": _ = try Image.decode(message.payload, topic: message.topic)
        case "sensor/radar": _ = try RadarCube.decode(message.payload, topic: message.topic)
        case "sensor/lidar": _ = try PointCloud.decode(message.payload, topic: message.topic)
        case "sensor/gnss": _ = try GnssFix.decode(message.payload, topic: message.topic)
        case "sensor/beam_power": _ = try BeamPower.decode(message.payload, topic: message.topic)
        case "truth/ue": _ = try TruthUE.decode(message.payload, topic: message.topic)
        case "truth/beam": _ = try TruthBeam.decode(message.payload, topic: message.topic)
        case "truth/blockage": _ = try TruthBlockage.decode(message.payload, topic: message.topic)
        default: Issue.record("unexpected topic \(message.topic)")
        }
    }

    @Test func everyMessagePassesTheProtocolValidation() throws {
        let site = try Fixtures.smallSite()
        var sim = try Simulator(site: site, scenario: try Fixtures.scenario(), seed: 3)
        var topics = Set<String>()
        for _ in 0..<120 {
            let (event, messages) = try sim.nextMessages()
            for message in messages {
                try Self.validate(message)
                topics.insert(message.topic)
            }
            switch event.payload {
            case .camera:
                let image = try Image.decode(messages[0].payload)
                #expect(image.width == site.camera.width && image.height == site.camera.height)
                #expect(image.header.frameID == "camera" && image.header.stamp == event.stamp)
            case .radar(let cube):
                let decoded = try RadarCube.decode(messages[0].payload)
                #expect(decoded.dtype == .cf32 && decoded.rx == 4 && decoded.samples == site.radar.samples)
                #expect(PackedArray.floats(decoded.data) == cube)
            case .lidar:
                let cloud = try PointCloud.decode(messages[0].payload)
                #expect(cloud.fields == ["x", "y", "z", "intensity"] && cloud.count > 0)
            case .gnss(let fix):
                let decoded = try GnssFix.decode(messages[0].payload)
                #expect(decoded.lat == fix.lat && decoded.fix == .threeD)
            case .truth(let truth):
                #expect(messages.count == 3)
                let beam = try TruthBeam.decode(messages[1].payload)
                #expect(beam.best == truth.bestBeam && beam.power == truth.power)
                let blockage = try TruthBlockage.decode(messages[2].payload)
                #expect(blockage.blocked == truth.blocked)
            case .beamPower(let power):
                let decoded = try BeamPower.decode(messages[0].payload)
                #expect(decoded.power == power && decoded.unit == .mw)
            }
        }
        #expect(topics == ["sensor/camera", "sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power",
                           "truth/ue", "truth/beam", "truth/blockage"])
    }

    @Test func sameSeedGivesByteIdenticalMessages() throws {
        func bytes(_ seed: UInt64) throws -> [SimWireMessage] {
            var sim = try Simulator(site: try Fixtures.smallSite(), scenario: try Fixtures.scenario(), seed: seed)
            return try (0..<80).flatMap { _ in try sim.nextMessages().messages }
        }
        #expect(try bytes(77) == bytes(77))
    }
}

@Suite struct ScenarioStatisticsTests {
    @Test func tallVehiclesBlockTheLineOfSightSometimesAndBlockageDropsThePower() throws {
        let site = try Fixtures.smallSite()
        let scenario = try Fixtures.scenario()
        let sim = try Simulator(site: site, scenario: scenario, seed: 4)
        var world = World(scenario: scenario, seed: 4)
        var blocked = 0, total = 0
        var blockedPeak: [Double] = [], clearPeak: [Double] = []
        var t = 0.0
        while t < 900 {
            world.advance(to: t)
            let snapshot = world.snapshot(at: t)
            let (truth, powers) = sim.truth(snapshot)
            let ue = snapshot.ue
            // compare like with like: the UE in the far westbound lane, within ±20 m of the mast
            if abs(ue.east) < 20 && abs(ue.north - 15.5) < 0.5 {
                total += 1
                if truth.blocked { blocked += 1; blockedPeak.append(powers.max() ?? 0) } else { clearPeak.append(powers.max() ?? 0) }
            }
            t += 0.1
        }
        let fraction = Double(blocked) / Double(max(total, 1))
        #expect(total > 300)
        #expect(fraction > 0.01 && fraction < 0.5, "blocked fraction \(fraction) of \(total)")
        func medianDb(_ v: [Double]) -> Double { 10 * log10(v.sorted()[v.count / 2]) }
        if !blockedPeak.isEmpty {
            // the peak beam power drops by roughly the body loss (reflections keep some power)
            let drop = medianDb(clearPeak) - medianDb(blockedPeak)
            #expect(drop > 8 && drop < 32, "median peak power drop \(drop) dB")
        }
    }
}
