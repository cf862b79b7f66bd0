import ForesightSite
import Foundation

/// What a path reflects off.
public enum Reflector: Sendable, Equatable, Hashable {
    /// The ground plane.
    case ground
    /// The facade with this index (`street.facades`).
    case facade(Int)
    /// The body of the vehicle with this id (metal).
    case vehicle(Int)

    /// Short name: `ground`, `facade:1`, `vehicle:17`.
    public var name: String {
        switch self {
        case .ground: return "ground"
        case .facade(let i): return "facade:\(i)"
        case .vehicle(let id): return "vehicle:\(id)"
        }
    }
}

/// One propagation path from the UE antenna to the base-station array.
public struct ChannelPath: Sendable, Equatable {
    /// The line of sight, or a specular reflection off one or two surfaces.
    public enum Kind: Sendable, Equatable, Hashable {
        /// The direct path.
        case lineOfSight
        /// Reflections in the order the wave meets them (from the UE to the array).
        case reflection([Reflector])

        /// `los`, or the reflectors joined by `+`, e.g. `facade:0+ground`.
        public var name: String {
            switch self {
            case .lineOfSight: return "los"
            case .reflection(let list): return list.map(\.name).joined(separator: "+")
            }
        }
    }

    /// Which path.
    public var kind: Kind
    /// Total length from the UE antenna to the array's reference point, metres.
    public var length: Double
    /// Direction cosine along the array axis (body y) of the arrival: `sin θ` for a level path.
    public var sinAzimuth: Double
    /// Arrival azimuth in the array's body frame, radians (positive to the left of boresight).
    public var azimuth: Double
    /// Arrival elevation in the array's body frame, radians (positive above).
    public var elevation: Double
    /// Complex amplitude at the array's reference point (real part): free-space loss, Fresnel
    /// coefficients with polarisation, vehicle body loss, element pattern; power on one element
    /// is `P_tx·G_ue·|a|²`.
    public var re: Double
    /// Complex amplitude (imaginary part).
    public var im: Double
    /// Loss added by vehicle bodies crossing the path, dB (0 when clear).
    public var blockageDb: Double
    /// Whether a vehicle body crosses the path (or, for the line of sight only, a building).
    public var blocked: Bool
    /// The interaction points, UE side first (empty for the line of sight).
    public var bounces: [SIMD3<Double>]
    /// The UE's image through all reflections (the UE itself for the line of sight): every
    /// array element sees the path arrive from this point, at distance |image − element|.
    public var image: SIMD3<Double>
}

/// A planar reflecting rectangle: the ground (unbounded), a facade or a vehicle side.
struct ReflectingSurface: Sendable {
    var reflector: Reflector
    /// A corner on the ground line.
    var origin: SIMD3<Double>
    /// Unit horizontal direction along the surface.
    var along: SIMD3<Double>
    /// Length along `along`, metres.
    var length: Double
    /// Bottom and top height, metres.
    var bottom: Double
    var top: Double
    /// Unit normal (outward for a vehicle side).
    var normal: SIMD3<Double>
    /// Complex relative permittivity.
    var permittivity: Complex
    /// Only the side the normal points to reflects (vehicle sides).
    var oneSided: Bool
    /// The vehicle owning the surface (its body is not a blocker of legs that touch it).
    var vehicleID: Int?

    /// Whether `p` (on the plane) lies within the rectangle.
    @inline(__always)
    func contains(_ p: SIMD3<Double>) -> Bool {
        if case .ground = reflector { return true }
        guard p.z >= bottom - 1e-9, p.z <= top + 1e-9 else { return false }
        let a = ((p - origin) * along).sum()
        return a >= -1e-9 && a <= length + 1e-9
    }

    /// Mirror image of a point in the plane.
    @inline(__always)
    func mirror(_ p: SIMD3<Double>) -> SIMD3<Double> {
        p - normal * (2 * ((p - origin) * normal).sum())
    }

    /// Where the segment a→b crosses the plane, as a fraction of the way (nil if it does not).
    @inline(__always)
    func crossing(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double? {
        let da = ((a - origin) * normal).sum(), db = ((b - origin) * normal).sum()
        guard (da > 0) != (db > 0), abs(da - db) > 1e-12 else { return nil }
        return da / (da - db)
    }
}

/// A geometric narrowband channel at the mmWave carrier, computed with the image method:
///
/// - paths: the line of sight; specular reflections off the ground and the facades up to
///   `link.max_reflection_order` (1 or 2); first-order reflections off vehicle sides (metal);
/// - each reflection multiplies the field by the Fresnel coefficients of the surface's complex
///   permittivity (ITU-R P.2040) for its perpendicular and parallel components, with the
///   polarisation vector carried through every bounce (UE and array elements vertically
///   polarised, i.e. along θ̂);
/// - free-space loss λ/(4πr) over the unfolded path length; a vehicle body crossing a leg adds
///   its body loss; a building (facade) crossing a leg removes the path;
/// - the array response is computed per element from the exact element-to-image distance
///   (spherical wavefront); element pattern: power gain `4·cos ψ` in front (ψ from boresight),
///   nothing behind — a lossless element of 6.02 dBi peak gain.
public struct ChannelModel: Sendable {
    let array: MmWaveArray
    let link: Scenario.LinkModel
    let txPowerMw: Double
    let noiseMw: Double
    let arrayOrigin: SIMD3<Double>
    let boresight: SIMD3<Double>
    let arrayAxis: SIMD3<Double>
    let arrayUp: SIMD3<Double>
    /// Element positions in the site frame, centred on the array origin along body y.
    let elementPositions: [SIMD3<Double>]
    let wavelength: Double
    let staticSurfaces: [ReflectingSurface]
    let walls: [ReflectingSurface]
    let metal: Complex
    /// Codebook weights, `beams × elements`, real and imaginary parts (already conjugated).
    let weightsRe: [Double]
    let weightsIm: [Double]

    /// Peak power gain of the array element, linear (4 = 6.02 dBi).
    public static let elementPeakGain = 4.0

    /// Creates the channel for a site's array and a scenario's link and surfaces; fails when a
    /// material has no ITU-R P.2040 values at the site's carrier.
    public init(site: Site, scenario: Scenario) throws(ConfigError) {
        array = site.mmwave
        link = scenario.link
        txPowerMw = pow(10, (scenario.txPowerDbm + scenario.ueGainDbi) / 10)
        noiseMw = pow(10, scenario.noiseDbm / 10)
        arrayOrigin = site.mmwave.pose.position
        boresight = site.mmwave.pose.directionToSite(SIMD3(1, 0, 0))
        arrayAxis = site.mmwave.pose.directionToSite(SIMD3(0, 1, 0))
        arrayUp = site.mmwave.pose.directionToSite(SIMD3(0, 0, 1))
        wavelength = site.mmwave.wavelength
        let n = site.mmwave.elements
        let spacing = site.mmwave.spacingWavelengths * site.mmwave.wavelength
        let origin = site.mmwave.pose.position, axis = site.mmwave.pose.directionToSite(SIMD3(0, 1, 0))
        elementPositions = (0..<n).map { e in origin + axis * ((Double(e) - Double(n - 1) / 2) * spacing) }
        let frequency = site.mmwave.carrierHz
        func resolve(_ spec: MaterialSpec, _ key: String) throws(ConfigError) -> Complex {
            switch spec.resolve(frequencyHz: frequency) {
            case .success(let material): return material.complexPermittivity(frequencyHz: frequency)
            case .failure(let error): throw .invalid(key: key, reason: error.message)
            }
        }
        metal = RadioMaterial(name: "metal", permittivity: 1, conductivity: 1e7).complexPermittivity(frequencyHz: frequency)
        var walls: [ReflectingSurface] = []
        for (index, facade) in scenario.facades.enumerated() {
            let d = facade.end - facade.start
            let length = (d * d).sum().squareRoot()
            let along = SIMD3(d.x / length, d.y / length, 0)
            walls.append(ReflectingSurface(reflector: .facade(index), origin: SIMD3(facade.start.x, facade.start.y, 0), along: along,
                                 length: length, bottom: 0, top: facade.height, normal: SIMD3(-along.y, along.x, 0),
                                 permittivity: try resolve(facade.material, "street.facades[\(index)].material"),
                                 oneSided: false, vehicleID: nil))
        }
        self.walls = walls
        let ground = ReflectingSurface(reflector: .ground, origin: .zero, along: SIMD3(1, 0, 0), length: .infinity, bottom: 0, top: 0,
                             normal: SIMD3(0, 0, 1), permittivity: try resolve(scenario.groundMaterial, "street.ground_material"),
                             oneSided: true, vehicleID: nil)
        var surfaces: [ReflectingSurface] = []
        if link.groundReflection { surfaces.append(ground) }
        if link.reflections { surfaces += walls }
        staticSurfaces = surfaces
        var re = [Double](repeating: 0, count: array.beams * n)
        var im = re
        let norm = 1 / Double(n).squareRoot()
        for (b, u) in array.steeringSines().enumerated() {
            for e in 0..<n {
                let phase = -2 * Double.pi * array.spacingWavelengths * Double(e) * u
                re[b * n + e] = cos(phase) * norm
                im[b * n + e] = sin(phase) * norm
            }
        }
        weightsRe = re
        weightsIm = im
    }

    /// Element positions in the site frame (element 0 rightmost, centred on the array origin).
    public var elements: [SIMD3<Double>] { elementPositions }

    /// Total body loss (dB) of vehicles crossing the segment a→b, capped at 80 dB, and whether any does.
    static func blockage(_ a: SIMD3<Double>, _ b: SIMD3<Double>, blockers: [VehicleState], except: Int? = nil) -> (Double, Bool) {
        var loss = 0.0
        var hit = false
        for v in blockers where v.id != except && v.box.intersectsSegment(a, b) {
            loss += v.blockageLossDb
            hit = true
        }
        return (min(loss, 80), hit)
    }

    /// Whether a facade (other than the ones the leg touches) crosses the segment a→b.
    func occluded(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Bool {
        for wall in walls {
            guard let f = wall.crossing(a, b), f > 1e-7, f < 1 - 1e-7 else { continue }
            if wall.contains(a + (b - a) * f) { return true }
        }
        return false
    }

    /// The four vertical sides of a vehicle body as metal reflectors (outward normals).
    func sides(of vehicle: VehicleState) -> [ReflectingSurface] {
        let box = vehicle.box
        let forward = box.directionToSite(SIMD3(1, 0, 0)), left = box.directionToSite(SIMD3(0, 1, 0))
        let base = SIMD3(box.center.x, box.center.y, 0)
        let top = box.center.z + box.half.z, bottom = max(0, box.center.z - box.half.z)
        func side(_ normal: SIMD3<Double>, _ distance: Double, _ along: SIMD3<Double>, _ halfLength: Double) -> ReflectingSurface {
            ReflectingSurface(reflector: .vehicle(vehicle.id), origin: base + normal * distance - along * halfLength, along: along,
                    length: 2 * halfLength, bottom: bottom, top: top, normal: normal, permittivity: metal, oneSided: true,
                    vehicleID: vehicle.id)
        }
        return [side(forward, box.half.x, left, box.half.y), side(-forward, box.half.x, left, box.half.y),
                side(left, box.half.y, forward, box.half.x), side(-left, box.half.y, forward, box.half.x)]
    }

    /// The paths from a UE antenna at `ue` to the array. `vehicles` are every vehicle in the
    /// scene; the UE's own body (`ueID`) blocks legs that leave the antenna through it (the
    /// ground bounce under the roof) but does not reflect.
    public func paths(ue: SIMD3<Double>, vehicles: [VehicleState], ueID: Int? = nil) -> [ChannelPath] {
        var result: [ChannelPath] = []
        result.reserveCapacity(16)
        let bs = arrayOrigin
        // line of sight
        if let los = trace(ue: ue, surfaces: [], vehicles: vehicles, keepOccluded: true) { result.append(los) }
        guard !staticSurfaces.isEmpty || link.vehicleReflections else { return result }
        for s in staticSurfaces {
            if let p = trace(ue: ue, surfaces: [s], vehicles: vehicles) { result.append(p) }
        }
        if link.maxOrder >= 2 {
            for s1 in staticSurfaces {
                for s2 in staticSurfaces where s1.reflector != s2.reflector {
                    if let p = trace(ue: ue, surfaces: [s1, s2], vehicles: vehicles) { result.append(p) }
                }
            }
        }
        if link.vehicleReflections {
            for v in vehicles where v.id != ueID && !v.isUE {
                for side in sides(of: v) {
                    // both ends outside this side
                    guard ((ue - side.origin) * side.normal).sum() > 0, ((bs - side.origin) * side.normal).sum() > 0 else { continue }
                    if let p = trace(ue: ue, surfaces: [side], vehicles: vehicles) { result.append(p) }
                }
            }
        }
        return result
    }

    /// Traces one specular path through `surfaces` (UE side first); nil when the geometry has no
    /// such path, a facade is in the way, or the path arrives from behind the array.
    func trace(ue: SIMD3<Double>, surfaces: [ReflectingSurface], vehicles: [VehicleState], keepOccluded: Bool = false) -> ChannelPath? {
        let bs = arrayOrigin
        // images of the UE through the surfaces, then the bounce points back from the array
        var images = [ue]
        for s in surfaces { images.append(s.mirror(images[images.count - 1])) }
        let image = images[images.count - 1]
        var bounces = [SIMD3<Double>](repeating: .zero, count: surfaces.count)
        var next = bs
        for k in stride(from: surfaces.count - 1, through: 0, by: -1) {
            let s = surfaces[k]
            guard let f = s.crossing(next, images[k + 1]), f > 1e-9, f < 1 - 1e-9 else { return nil }
            let point = next + (images[k + 1] - next) * f
            guard s.contains(point) else { return nil }
            bounces[k] = point
            next = point
        }
        // the legs, UE side first
        let points = [ue] + bounces + [bs]
        var lossDb = 0.0, blocked = false, hidden = false
        for k in 0..<(points.count - 1) {
            let a = points[k], b = points[k + 1]
            if occluded(a, b) { hidden = true }
            // a leg touching a vehicle side is not blocked by that vehicle
            let owner = k > 0 ? surfaces[k - 1].vehicleID : nil
            let owner2 = k < surfaces.count ? surfaces[k].vehicleID : nil
            for v in vehicles where v.id != owner && v.id != owner2 && v.box.intersectsSegment(a, b) {
                lossDb += v.blockageLossDb
                blocked = true
            }
        }
        if hidden && !keepOccluded { return nil }
        lossDb = min(lossDb, 80)
        // arrival at the array
        let toSource = image - bs
        let length = (toSource * toSource).sum().squareRoot()
        guard length > 1e-6 else { return nil }
        let direction = toSource / length                   // from the array towards the (image) source
        let cosPsi = (direction * boresight).sum()
        guard cosPsi > 0 else { return nil }
        let localY = (direction * arrayAxis).sum(), localZ = (direction * arrayUp).sum()
        // polarisation: vertical (θ̂) at the UE, carried through every bounce, projected on θ̂ of the element
        let firstTarget = surfaces.isEmpty ? bs : bounces[0]
        var k = firstTarget - ue
        k /= (k * k).sum().squareRoot()
        var fieldRe = Self.thetaHat(k, up: SIMD3(0, 0, 1)), fieldIm = SIMD3<Double>.zero
        for (index, s) in surfaces.enumerated() {
            let target = index + 1 < surfaces.count ? bounces[index + 1] : bs
            var kr = target - bounces[index]
            kr /= (kr * kr).sum().squareRoot()
            (fieldRe, fieldIm) = Self.reflect(fieldRe, fieldIm, incident: k, reflected: kr, normal: s.normal, permittivity: s.permittivity)
            k = kr
        }
        let receive = Self.thetaHat(k, up: arrayUp)
        let polarisation = Complex((fieldRe * receive).sum(), (fieldIm * receive).sum())
        let element = (Self.elementPeakGain * cosPsi).squareRoot()
        let magnitude = hidden ? 0 : wavelength / (4 * .pi * max(length, wavelength)) * element * pow(10, -lossDb / 20)
        let phase = -2 * Double.pi * length.truncatingRemainder(dividingBy: wavelength) / wavelength
        let gain = polarisation * Complex(magnitude * cos(phase), magnitude * sin(phase))
        let kind: ChannelPath.Kind = surfaces.isEmpty ? .lineOfSight : .reflection(surfaces.map(\.reflector))
        return ChannelPath(kind: kind, length: length, sinAzimuth: localY, azimuth: atan2(localY, cosPsi),
                           elevation: asin(max(-1, min(1, localZ))), re: gain.re, im: gain.im, blockageDb: lossDb,
                           blocked: blocked || hidden, bounces: bounces, image: image)
    }

    /// The unit θ̂ vector (zenith axis `up`) of a wave travelling along `k`: the polarisation of a
    /// vertically polarised antenna. `θ̂(−k) = θ̂(k)`, so transmitter and receiver agree.
    @inline(__always)
    static func thetaHat(_ k: SIMD3<Double>, up: SIMD3<Double>) -> SIMD3<Double> {
        let v = k * (k * up).sum() - up
        let n = (v * v).sum().squareRoot()
        return n > 1e-12 ? v / n : SIMD3(1, 0, 0)
    }

    /// The field after a specular reflection: components perpendicular (ŝ = k̂ᵢ × n̂) and
    /// parallel (p̂ = ŝ × k̂) to the plane of incidence, multiplied by Γ⊥ and Γ∥.
    static func reflect(_ re: SIMD3<Double>, _ im: SIMD3<Double>, incident k: SIMD3<Double>, reflected kr: SIMD3<Double>,
                        normal n: SIMD3<Double>, permittivity: Complex) -> (SIMD3<Double>, SIMD3<Double>) {
        var s = cross(k, n)
        var sn = (s * s).sum().squareRoot()
        if sn < 1e-9 {
            // normal incidence: any direction normal to k̂ spans the plane of incidence
            s = cross(k, abs(k.z) < 0.9 ? SIMD3(0, 0, 1) : SIMD3(1, 0, 0))
            sn = (s * s).sum().squareRoot()
        }
        s /= sn
        let pi = cross(s, k), pr = cross(s, kr)
        let cosTheta = abs((k * n).sum())
        let (gs, gp) = Fresnel.coefficients(cosTheta: cosTheta, permittivity: permittivity)
        let es = Complex((re * s).sum(), (im * s).sum()), ep = Complex((re * pi).sum(), (im * pi).sum())
        let a = gs * es, b = gp * ep
        return (s * a.re + pr * b.re, s * a.im + pr * b.im)
    }

    @inline(__always)
    static func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
    }

    /// The channel vector `h[e] = Σ_p a_p · exp(−j·2π·(r_{p,e} − r_p)/λ)`: each path's amplitude
    /// with the phase of the exact distance from its image source to element e (spherical wavefront).
    public func channelVector(paths: [ChannelPath]) -> (re: [Double], im: [Double]) {
        let n = array.elements
        var hRe = [Double](repeating: 0, count: n), hIm = hRe
        let k = 2 * Double.pi / wavelength
        for p in paths where p.re != 0 || p.im != 0 {
            for e in 0..<n {
                let d = p.image - elementPositions[e]
                let delta = (d * d).sum().squareRoot() - p.length
                let phase = -k * delta
                let (c, s) = (cos(phase), sin(phase))
                hRe[e] += p.re * c - p.im * s
                hIm[e] += p.re * s + p.im * c
            }
        }
        return (hRe, hIm)
    }

    /// The same channel vector with a plane wave per path (the far-field approximation): phase
    /// `2π·y_e·sin θ_p/λ` for element offset y_e along the array axis.
    public func planeWaveChannelVector(paths: [ChannelPath]) -> (re: [Double], im: [Double]) {
        let n = array.elements
        var hRe = [Double](repeating: 0, count: n), hIm = hRe
        let k = 2 * Double.pi / wavelength
        for p in paths where p.re != 0 || p.im != 0 {
            for e in 0..<n {
                let offset = ((elementPositions[e] - arrayOrigin) * arrayAxis).sum()
                let phase = k * offset * p.sinAzimuth
                let (c, s) = (cos(phase), sin(phase))
                hRe[e] += p.re * c - p.im * s
                hIm[e] += p.re * s + p.im * c
            }
        }
        return (hRe, hIm)
    }

    /// Noiseless received power of every beam for a channel vector, mW: `P · |w_bᴴ h|²`.
    public func beamPowers(channel h: (re: [Double], im: [Double])) -> [Double] {
        let n = array.elements
        var powers = [Double](repeating: 0, count: array.beams)
        weightsRe.withUnsafeBufferPointer { wr in
            weightsIm.withUnsafeBufferPointer { wi in
                for b in 0..<array.beams {
                    var yr = 0.0, yi = 0.0
                    let base = b * n
                    for e in 0..<n {
                        yr += wr[base + e] * h.re[e] - wi[base + e] * h.im[e]
                        yi += wr[base + e] * h.im[e] + wi[base + e] * h.re[e]
                    }
                    powers[b] = txPowerMw * (yr * yr + yi * yi)
                }
            }
        }
        return powers
    }

    /// Noiseless received power of every beam, mW, with the spherical-wavefront array response.
    public func beamPowers(paths: [ChannelPath]) -> [Double] {
        beamPowers(channel: channelVector(paths: paths))
    }

    /// Adds receiver noise to noiseless powers: each beam measurement is `|√P·wᴴh + n|²` with
    /// complex Gaussian `n` of power `noise_dbm`. The phase of the signal does not matter for
    /// the magnitude, so the signal is put on the real axis.
    public func measured(_ powers: [Double], random: inout SimRandom) -> [Double] {
        let sigma = (noiseMw / 2).squareRoot()
        return powers.map { p in
            let re = p.squareRoot() + sigma * random.gaussian()
            let im = sigma * random.gaussian()
            return re * re + im * im
        }
    }
}
