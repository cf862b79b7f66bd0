import ForesightSite
import Foundation

/// A complex number (just what the channel model needs).
public struct Complex: Sendable, Equatable {
    /// Real part.
    public var re: Double
    /// Imaginary part.
    public var im: Double

    /// Creates `re + j·im`.
    @inline(__always)
    public init(_ re: Double, _ im: Double = 0) {
        self.re = re
        self.im = im
    }

    /// `|z|`.
    public var magnitude: Double { (re * re + im * im).squareRoot() }
    /// `|z|²`.
    public var magnitudeSquared: Double { re * re + im * im }
    /// `arg z`, radians.
    public var phase: Double { atan2(im, re) }

    @inline(__always) public static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
    @inline(__always) public static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
    @inline(__always) public static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    @inline(__always) public static func * (a: Complex, s: Double) -> Complex { Complex(a.re * s, a.im * s) }
    @inline(__always) public static func / (a: Complex, b: Complex) -> Complex {
        let d = b.re * b.re + b.im * b.im
        return Complex((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d)
    }

    /// The principal square root (non-negative real part).
    public var squareRoot: Complex {
        let m = magnitude
        let r = ((m + re) / 2).squareRoot()
        let i = ((m - re) / 2).squareRoot()
        return Complex(r, im < 0 ? -i : i)
    }
}

/// The electrical properties of a surface material at the carrier: relative permittivity η′
/// and conductivity σ, giving the complex relative permittivity `η = η′ − j·σ/(ε₀·ω)`
/// (`= η′ − j·17.98·σ/f_GHz`, ITU-R P.2040 eq. 9b, time convention `e^{jωt}`).
public struct RadioMaterial: Sendable, Equatable {
    /// Name (an ITU-R P.2040 material or `custom`).
    public var name: String
    /// Real relative permittivity η′.
    public var permittivity: Double
    /// Conductivity σ, S/m.
    public var conductivity: Double

    /// Creates a material from its permittivity and conductivity at the carrier.
    public init(name: String, permittivity: Double, conductivity: Double) {
        self.name = name
        self.permittivity = permittivity
        self.conductivity = conductivity
    }

    /// Complex relative permittivity at `frequencyHz`: `η′ − j·σ/(ε₀·2πf)`.
    public func complexPermittivity(frequencyHz: Double) -> Complex {
        let epsilon0 = 8.854_187_8128e-12
        return Complex(permittivity, -conductivity / (epsilon0 * 2 * .pi * frequencyHz))
    }

    /// ITU-R P.2040-3 Table 3: `η′ = a·f^b`, `σ = c·f^d` (f in GHz), each valid over a frequency
    /// range. Only the rows covering millimetre waves and the common building materials.
    static let ituTable: [(name: String, ghz: ClosedRange<Double>, a: Double, b: Double, c: Double, d: Double)] = [
        ("vacuum", 0.001...100, 1, 0, 0, 0),
        ("concrete", 1...100, 5.24, 0, 0.0462, 0.7822),
        ("brick", 1...40, 3.91, 0, 0.0238, 0.16),
        ("plasterboard", 1...100, 2.73, 0, 0.0085, 0.9395),
        ("wood", 0.001...100, 1.99, 0, 0.0047, 1.0718),
        ("glass", 0.1...100, 6.31, 0, 0.0036, 1.3394),
        ("ceiling_board", 1...100, 1.48, 0, 0.0011, 1.075),
        ("chipboard", 1...100, 2.58, 0, 0.0217, 0.78),
        ("plywood", 1...40, 2.71, 0, 0.33, 0),
        ("marble", 1...60, 7.074, 0, 0.0055, 0.9262),
        ("floorboard", 50...100, 3.66, 0, 0.0044, 1.3515),
        ("metal", 1...100, 1, 0, 1e7, 0),
        ("very_dry_ground", 1...10, 3, 0, 0.00015, 2.52),
        ("medium_dry_ground", 1...10, 15, -0.1, 0.035, 1.63),
        ("wet_ground", 1...10, 30, -0.4, 0.15, 1.3),
    ]

    /// Names of the built-in ITU-R P.2040 materials.
    public static var ituNames: [String] { ituTable.map(\.name) }

    /// The ITU-R P.2040 material `name` at `frequencyHz`, or a message saying why not.
    public static func itu(_ name: String, frequencyHz: Double) -> Result<RadioMaterial, MaterialError> {
        guard let row = ituTable.first(where: { $0.name == name }) else {
            return .failure(MaterialError(message: "unknown material '\(name)'; use one of \(ituNames.joined(separator: ", ")) "
                + "or {permittivity: η′, conductivity_s_per_m: σ}"))
        }
        let ghz = frequencyHz / 1e9
        guard row.ghz.contains(ghz) else {
            return .failure(MaterialError(message: "ITU-R P.2040 gives '\(name)' only for \(row.ghz.lowerBound)–\(row.ghz.upperBound) GHz, "
                + "not \(ghz) GHz; pick another material or give {permittivity, conductivity_s_per_m}"))
        }
        return .success(RadioMaterial(name: name, permittivity: row.a * pow(ghz, row.b), conductivity: row.c * pow(ghz, row.d)))
    }

    /// Why a material cannot be used.
    public struct MaterialError: Error, Sendable, Equatable {
        /// What is wrong and what to do.
        public var message: String
    }
}

/// A material as written in a scenario: an ITU-R P.2040 name (resolved at the site's carrier) or
/// explicit permittivity and conductivity.
public enum MaterialSpec: Sendable, Equatable {
    /// An ITU-R P.2040 material by name.
    case itu(String)
    /// Explicit values at the carrier.
    case custom(permittivity: Double, conductivity: Double)

    /// The material at the carrier.
    public func resolve(frequencyHz: Double) -> Result<RadioMaterial, RadioMaterial.MaterialError> {
        switch self {
        case .itu(let name): return RadioMaterial.itu(name, frequencyHz: frequencyHz)
        case .custom(let permittivity, let conductivity):
            return .success(RadioMaterial(name: "custom", permittivity: permittivity, conductivity: conductivity))
        }
    }

    /// Reads `material` from a scenario mapping: a string or `{permittivity, conductivity_s_per_m}`.
    static func read(_ map: ConfigMapping, _ key: String, default value: String) throws(ConfigError) -> MaterialSpec {
        guard let node = map.optional(key) else { return .itu(value) }
        if let m = try? node.mapping() {
            let spec = MaterialSpec.custom(permittivity: try m.double("permittivity", in: 1...1e6),
                                           conductivity: try m.double("conductivity_s_per_m", in: 0...1e9))
            try m.finish()
            return spec
        }
        let name = try map.string(key)
        guard RadioMaterial.ituNames.contains(name) else {
            throw map.invalid(key, "unknown material '\(name)'; use one of \(RadioMaterial.ituNames.joined(separator: ", ")) "
                + "or {permittivity: η′, conductivity_s_per_m: σ}")
        }
        return .itu(name)
    }
}

/// Fresnel reflection coefficients of a smooth half-space of complex relative permittivity η
/// seen from vacuum (ITU-R P.2040 eqs. 31, with `cos θ` the cosine of the incidence angle
/// from the normal):
///
/// - perpendicular (TE, E normal to the plane of incidence):
///   `Γ⊥ = (cos θ − √(η − sin²θ)) / (cos θ + √(η − sin²θ))`
/// - parallel (TM, E in the plane of incidence):
///   `Γ∥ = (η·cos θ − √(η − sin²θ)) / (η·cos θ + √(η − sin²θ))`
///
/// `Γ∥` refers to the basis `p̂ = ŝ × k̂` for both the incident and the reflected wave
/// (`ŝ` normal to the plane of incidence), so both coefficients tend to −1 at grazing incidence
/// and at normal incidence `Γ∥ = −Γ⊥` describes the same physical field.
public enum Fresnel {
    /// `(Γ⊥, Γ∥)` for incidence cosine `cosTheta` (0 = grazing, 1 = normal) onto permittivity `eta`.
    @inline(__always)
    public static func coefficients(cosTheta: Double, permittivity eta: Complex) -> (perpendicular: Complex, parallel: Complex) {
        let c = max(0, min(1, cosTheta))
        let sin2 = 1 - c * c
        let root = (eta - Complex(sin2)).squareRoot
        let cc = Complex(c)
        let perpendicular = (cc - root) / (cc + root)
        let etaCos = eta * c
        let parallel = (etaCos - root) / (etaCos + root)
        return (perpendicular, parallel)
    }
}
