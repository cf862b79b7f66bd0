import Foundation

/// One vehicle in the scene.
public struct Vehicle: Sendable, Equatable {
    /// Unique id (0 is reserved for nothing; the UE's passes and traffic get increasing ids).
    public var id: Int
    /// Its class (size, colour, radar cross-section).
    public var vehicleClass: Scenario.VehicleClass
    /// Its motion.
    public var trajectory: Trajectory
    /// Loss its body adds to a radio path through it, dB.
    public var blockageLossDb: Double
    /// Whether this is the user equipment.
    public var isUE: Bool
}

/// A vehicle's state at one instant.
public struct VehicleState: Sendable, Equatable {
    /// The vehicle.
    public var id: Int
    /// Whether this is the user equipment.
    public var isUE: Bool
    /// Position of the body centre on the ground, metres east/north.
    public var east: Double
    /// Metres north.
    public var north: Double
    /// Velocity, m/s east.
    public var velocityEast: Double
    /// Velocity, m/s north.
    public var velocityNorth: Double
    /// Heading, radians counter-clockwise from east.
    public var heading: Double
    /// Body box.
    public var box: OrientedBox
    /// Body colour.
    public var color: SIMD3<Double>
    /// Radar cross-section per scatterer, m².
    public var rcs: Double
    /// Radio loss through the body, dB.
    public var blockageLossDb: Double

    /// Creates a state (the simulator builds these from trajectories; tests place vehicles directly).
    public init(id: Int, isUE: Bool, east: Double, north: Double, velocityEast: Double, velocityNorth: Double,
                heading: Double, box: OrientedBox, color: SIMD3<Double>, rcs: Double, blockageLossDb: Double) {
        self.id = id
        self.isUE = isUE
        self.east = east
        self.north = north
        self.velocityEast = velocityEast
        self.velocityNorth = velocityNorth
        self.heading = heading
        self.box = box
        self.color = color
        self.rcs = rcs
        self.blockageLossDb = blockageLossDb
    }

    /// Velocity as a 3-vector.
    public var velocity: SIMD3<Double> { SIMD3(velocityEast, velocityNorth, 0) }
}

/// Everything that moves, at one instant.
public struct WorldSnapshot: Sendable {
    /// Simulated time, s since the start.
    public var time: Double
    /// The UE.
    public var ue: VehicleState
    /// UE antenna position in the site frame.
    public var ueAntenna: SIMD3<Double>
    /// Every vehicle including the UE.
    public var vehicles: [VehicleState]
}

/// The traffic generator: the UE driving pass after pass and Poisson traffic in every lane.
///
/// Generation is lazy and monotonic in time (`advance(to:)`); every lane and the UE draw from
/// their own random stream, so the result does not depend on how often the world is queried.
public struct World: Sendable {
    let scenario: Scenario
    private var ueRandom: SimRandom
    private var laneRandom: [SimRandom]
    private var nextSpawn: [Double]
    private var nextUEStart: Double
    private var nextID = 1
    /// Vehicles currently or soon in the scene.
    public private(set) var vehicles: [Vehicle] = []

    /// Creates the world; traffic starts already flowing at time 0.
    public init(scenario: Scenario, seed: UInt64) {
        self.scenario = scenario
        ueRandom = SimRandom(seed: seed, stream: 100)
        laneRandom = scenario.lanes.indices.map { SimRandom(seed: seed, stream: 200 + UInt64($0)) }
        // Start traffic long enough before 0 that the street is populated at 0.
        nextSpawn = scenario.lanes.map { -$0.length / max($0.speed.lowerBound, 0.5) }
        nextUEStart = 0
    }

    /// Spawns and retires vehicles so that the set is complete for time `t`.
    public mutating func advance(to t: Double) {
        while nextUEStart <= t + 1 {
            let vehicle = makeUEPass(start: nextUEStart)
            nextUEStart = vehicle.trajectory.endTime + ueRandom.uniform(scenario.ue.gap)
            vehicles.append(vehicle)
        }
        for lane in scenario.lanes.indices where scenario.trafficPerMinute > 0 {
            while nextSpawn[lane] <= t {
                let vehicle = makeTraffic(lane: lane, start: nextSpawn[lane])
                let mean = 60 / scenario.trafficPerMinute
                nextSpawn[lane] += max(scenario.minHeadway, laneRandom[lane].exponential(mean: mean))
                vehicles.append(vehicle)
            }
        }
        let lastUE = vehicles.last { $0.isUE }?.id
        vehicles.removeAll { $0.trajectory.endTime < t - 1 && $0.id != lastUE }
    }

    /// States of the vehicles present at `t` (call `advance(to:)` first). The UE is the one
    /// whose pass covers `t` (between passes, the last one, parked at its exit).
    public func snapshot(at t: Double) -> WorldSnapshot {
        var states: [VehicleState] = []
        var ue: VehicleState?
        var ueCandidate: VehicleState?
        for vehicle in vehicles {
            let tr = vehicle.trajectory
            let present = t >= tr.startTime && t <= tr.endTime
            let state = Self.state(of: vehicle, at: t)
            if vehicle.isUE {
                if present { ue = state } else if t > tr.endTime { ueCandidate = state }
                if present { states.append(state) }
            } else if present {
                states.append(state)
            }
        }
        let theUE = ue ?? ueCandidate ?? vehicles.first { $0.isUE }.map { Self.state(of: $0, at: t) }
            ?? Self.state(of: Vehicle(id: 0, vehicleClass: scenario.ue.vehicle,
                                      trajectory: Trajectory(route: .straight(start: .zero, direction: SIMD2(1, 0), length: 1),
                                                             pieces: [.init(start: 0, duration: 1, s0: 0, v0: 0, a: 0)]),
                                      blockageLossDb: 0, isUE: true), at: t)
        let antenna = SIMD3(theUE.east, theUE.north, scenario.ue.antennaHeight)
        return WorldSnapshot(time: t, ue: theUE, ueAntenna: antenna, vehicles: states)
    }

    static func state(of vehicle: Vehicle, at t: Double) -> VehicleState {
        let k = vehicle.trajectory.state(at: t)
        let speed = (k.velocityEast * k.velocityEast + k.velocityNorth * k.velocityNorth).squareRoot()
        let heading: Double
        if speed > 0.05 {
            heading = atan2(k.velocityNorth, k.velocityEast)
        } else {
            // standing still: the direction of the route where it stands
            let tr = vehicle.trajectory
            let piece = tr.pieces.last { t >= $0.start } ?? tr.pieces[0]
            let tau = min(max(t - piece.start, 0), piece.duration)
            let tangent = tr.route.point(at: piece.s0 + piece.v0 * tau + 0.5 * piece.a * tau * tau).tangent
            heading = atan2(tangent.y, tangent.x)
        }
        let size = vehicle.vehicleClass.size
        let box = OrientedBox(center: SIMD3(k.east, k.north, size.z / 2), size: size, yaw: heading)
        return VehicleState(id: vehicle.id, isUE: vehicle.isUE, east: k.east, north: k.north,
                            velocityEast: k.velocityEast, velocityNorth: k.velocityNorth, heading: heading,
                            box: box, color: vehicle.vehicleClass.color, rcs: vehicle.vehicleClass.rcs,
                            blockageLossDb: vehicle.blockageLossDb)
    }

    private mutating func makeTraffic(lane index: Int, start: Double) -> Vehicle {
        var rng = laneRandom[index]
        defer { laneRandom[index] = rng }
        let lane = scenario.lanes[index]
        let total = scenario.classes.reduce(0) { $0 + $1.probability }
        var pick = rng.uniform() * total
        var vehicleClass = scenario.classes[scenario.classes.count - 1]
        for c in scenario.classes {
            if pick < c.probability { vehicleClass = c; break }
            pick -= c.probability
        }
        let speed = rng.uniform(lane.speed)
        let length = lane.length + vehicleClass.size.x
        let trajectory = Trajectory(route: .straight(start: lane.start, direction: lane.direction.unit, length: length),
                                    pieces: [.init(start: start, duration: length / speed, s0: 0, v0: speed, a: 0)],
                                    laneChange: nil)
        let loss = rng.uniform(scenario.blockageLossDb)
        defer { nextID += 1 }
        return Vehicle(id: nextID, vehicleClass: vehicleClass, trajectory: trajectory, blockageLossDb: loss, isUE: false)
    }

    private mutating func makeUEPass(start: Double) -> Vehicle {
        var rng = ueRandom
        defer { ueRandom = rng }
        let behaviour = scenario.ue
        let laneIndex = behaviour.lanes[rng.index(behaviour.lanes.count)]
        let lane = scenario.lanes[laneIndex]
        var route = Route.straight(start: lane.start, direction: lane.direction.unit, length: lane.length)
        var turned = false
        let turns = behaviour.turns.filter { $0.fromLane == laneIndex }
        if !turns.isEmpty, rng.chance(behaviour.turnProbability) {
            let turn = turns[rng.index(turns.count)]
            if let r = Route.turn(from: lane, to: scenario.lanes[turn.toLane], radius: turn.radius) {
                route = r
                turned = true
            }
        }
        let length = route.length
        // where a stop happens: `stop_east_m` is the coordinate along the lane's axis
        let startAlong = lane.direction.alongEast ? lane.start.x : lane.start.y
        let v = rng.uniform(behaviour.speed)
        let a = rng.uniform(behaviour.acceleration)
        var tr = Trajectory(route: route, pieces: [], laneChange: nil)
        if rng.chance(behaviour.stopProbability) {
            // cruise, brake to a stop at stopEast, wait, accelerate back to v, cruise out
            let stopAt = min(abs(rng.uniform(behaviour.stopEast) - startAlong), 0.9 * length)
            let brake = v * v / (2 * a)
            let cruise1 = max(0, stopAt - brake)
            tr.pieces = [.init(start: start, duration: max(cruise1 / v, 0.01), s0: 0, v0: v, a: 0)]
            tr.append(duration: v / a, a: -a)
            tr.append(duration: rng.uniform(behaviour.stopDuration), a: 0)
            tr.append(duration: v / a, a: a)
        } else if rng.chance(behaviour.speedChangeProbability) {
            let v2 = rng.uniform(behaviour.speed)
            let changeAt = rng.uniform(0.2...0.6) * length
            tr.pieces = [.init(start: start, duration: changeAt / v, s0: 0, v0: v, a: 0)]
            tr.append(duration: abs(v2 - v) / a, a: v2 >= v ? a : -a)
        } else {
            tr.pieces = [.init(start: start, duration: length / v, s0: 0, v0: v, a: 0)]
        }
        // cruise out at the final speed until the street ends
        let last = tr.pieces[tr.pieces.count - 1]
        let sEnd = last.s0 + last.v0 * last.duration + 0.5 * last.a * last.duration * last.duration
        let vEnd = max(0.5, last.v0 + last.a * last.duration)
        if sEnd < length { tr.append(duration: (length - sEnd) / vEnd, a: 0) }
        // lane change to a neighbouring lane of the same direction
        if rng.chance(behaviour.laneChangeProbability), !turned {
            let sameDirection = scenario.lanes.filter { $0.direction == lane.direction && $0.offset != lane.offset }
            if !sameDirection.isEmpty {
                let target = sameDirection[rng.index(sameDirection.count)]
                let duration = rng.uniform(behaviour.laneChangeDuration)
                let when = tr.startTime + rng.uniform(0.2...0.7) * (tr.endTime - tr.startTime - duration)
                // the lateral offset along the lane's left normal that reaches the target lane
                let shift = target.offset - lane.offset
                let offset = lane.direction.alongEast ? shift * lane.leftNormal.y : shift * lane.leftNormal.x
                tr.laneChange = .init(start: when, duration: duration, offset: offset)
            }
        }
        let loss = rng.uniform(scenario.blockageLossDb)
        defer { nextID += 1 }
        return Vehicle(id: nextID, vehicleClass: behaviour.vehicle, trajectory: tr, blockageLossDb: loss, isUE: true)
    }
}
