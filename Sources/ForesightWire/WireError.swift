/// The fixed, documented names of every reason a message can be rejected.
///
/// These strings are part of the protocol (docs/protocol.md, "Rejection reasons"): they label
/// the `foresight_rejected_total{topic,reason}` counters and the `rejections` of
/// `foresight/diagnostics`, so an operator can reconcile what was sent with what was refused.
public enum RejectionReason: String, Sendable, CaseIterable, Codable {
    /// Not exactly two ZeroMQ frames, or a topic frame that is not UTF-8.
    case framing
    /// Payload larger than `WireLimits.maxPayloadBytes`.
    case payloadTooLarge = "payload_too_large"
    /// Not decodable MessagePack (truncated, invalid byte, lengths beyond the input, bad UTF-8).
    case malformed
    /// Bytes left over after the top-level map.
    case trailingBytes = "trailing_bytes"
    /// The same key twice in one map.
    case duplicateKey = "duplicate_key"
    /// A map key that is not a string.
    case nonStringKey = "non_string_key"
    /// Nesting deeper than `WireLimits.maxDepth`.
    case tooDeep = "too_deep"
    /// The top level is not a map.
    case notAMap = "not_a_map"
    /// A required key is absent.
    case missingField = "missing_field"
    /// A key holds the wrong MessagePack type (e.g. `data` as str instead of bin).
    case wrongType = "wrong_type"
    /// A value outside its allowed range (negative size, latitude beyond ±90, seq beyond uint32, …).
    case outOfRange = "out_of_range"
    /// NaN or infinity where a finite number is required.
    case nonFinite = "non_finite"
    /// `shape`/`count`/dimensions do not match the length of `data`.
    case shapeMismatch = "shape_mismatch"
    /// A `dtype` the message type does not allow.
    case unknownDtype = "unknown_dtype"
    /// An enum string (encoding, fix, unit) that is not one of the documented lowercase values.
    case unknownEnum = "unknown_enum"
    /// A size beyond the configured limits (image dimensions, point count, radar dimensions).
    case limitExceeded = "limit_exceeded"
    /// `frame_id` empty or longer than 256 bytes.
    case badFrameID = "bad_frame_id"
    /// A JPEG whose header cannot be read or disagrees with `width`/`height`.
    case jpegHeader = "jpeg_header"
    /// A JPEG that libjpeg-turbo reports as corrupt or truncated while decoding.
    case corruptJPEG = "corrupt_jpeg"
    /// A modality's preprocessing refused a message that passed the wire checks (bad radar
    /// dimensions for the configured FFT, a LiDAR filter failure, …).
    case preprocessFailed = "preprocess_failed"
    /// A stamp not strictly greater than the previous one on the same topic (duplicate or backwards).
    case stampNotIncreasing = "stamp_not_increasing"
    /// A message on a topic that nothing is configured to decode. Counted under the single
    /// topic label ``WireCounters/unknownTopicLabel``, whatever the topic was, so junk topic names
    /// cannot grow the counters.
    case unknownTopic = "unknown_topic"
    /// A sensor stamp more than the launch file's `future_bound_ms` ahead of stream time (the
    /// newest accepted stamp plus the wall time since it arrived): a clock glitch that must not
    /// drag stream time forward for every sensor.
    case stampFuture = "stamp_future"
    /// A preprocessed tensor the learned model cannot take (a size other than the model's input,
    /// e.g. a radar cube with another sample count than the site's, or a non-finite value): the
    /// model predicts from the frame with that modality missing (its learned missing token).
    case modelInputMismatch = "model_input_mismatch"
}

/// A message that was rejected: which topic, which field, why, and details a person can act on.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The topic the message arrived on (empty when not known yet).
    public var topic: String
    /// The offending field (`stamp`, `data`, `shape[1]`, …), or empty for whole-message problems.
    public var field: String
    /// The documented reason code.
    public var reason: RejectionReason
    /// A human-readable explanation.
    public var detail: String

    /// Creates an error.
    public init(topic: String = "", field: String = "", reason: RejectionReason, detail: String) {
        self.topic = topic
        self.field = field
        self.reason = reason
        self.detail = detail
    }

    /// The same error attributed to `topic`.
    public func on(topic: String) -> WireError {
        var copy = self
        copy.topic = topic
        return copy
    }

    public var description: String {
        let place = [topic.isEmpty ? nil : "topic '\(topic)'", field.isEmpty ? nil : "field '\(field)'"]
            .compactMap { $0 }.joined(separator: ", ")
        return "rejected (\(reason.rawValue))\(place.isEmpty ? "" : " \(place)"): \(detail)"
    }

    /// Maps a MessagePack decoding failure to its rejection reason.
    init(_ error: MessagePackError) {
        let reason: RejectionReason
        switch error {
        case .trailingBytes: reason = .trailingBytes
        case .duplicateKey: reason = .duplicateKey
        case .nonStringKey: reason = .nonStringKey
        case .tooDeep: reason = .tooDeep
        case .truncated, .invalidType, .lengthExceedsInput, .invalidUTF8: reason = .malformed
        }
        self.init(reason: reason, detail: error.description)
    }
}

/// Size limits checked before anything is allocated. All are configurable (launch file `limits:`).
public struct WireLimits: Sendable, Equatable, Codable {
    /// Largest accepted payload (frame 2), bytes. Default 64 MiB.
    public var maxPayloadBytes: Int = 64 << 20
    /// Largest image width and height, pixels. Default 8192.
    public var maxImageDimension: Int = 8192
    /// Largest point count of a cloud. Default 2,000,000.
    public var maxPoints: Int = 2_000_000
    /// Largest number of radar receive channels. Default 64.
    public var maxRadarRx: Int = 64
    /// Largest number of ADC samples per chirp. Default 4096.
    public var maxRadarSamples: Int = 4096
    /// Largest number of chirps. Default 4096.
    public var maxRadarChirps: Int = 4096
    /// Largest number of beams in a power vector. Default 4096.
    public var maxBeams: Int = 4096
    /// Deepest nesting of values. Default 32.
    public var maxDepth: Int = 32

    /// The documented defaults.
    public static let `default` = WireLimits()

    /// Creates limits with the documented defaults.
    public init() {}

    private enum CodingKeys: String, CodingKey {
        case maxPayloadBytes = "max_payload_bytes", maxImageDimension = "max_image_dimension"
        case maxPoints = "max_points", maxRadarRx = "max_radar_rx", maxRadarSamples = "max_radar_samples"
        case maxRadarChirps = "max_radar_chirps", maxBeams = "max_beams", maxDepth = "max_depth"
    }

    /// Decodes limits; keys that are absent keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = WireLimits.default
        maxPayloadBytes = try c.decodeIfPresent(Int.self, forKey: .maxPayloadBytes) ?? d.maxPayloadBytes
        maxImageDimension = try c.decodeIfPresent(Int.self, forKey: .maxImageDimension) ?? d.maxImageDimension
        maxPoints = try c.decodeIfPresent(Int.self, forKey: .maxPoints) ?? d.maxPoints
        maxRadarRx = try c.decodeIfPresent(Int.self, forKey: .maxRadarRx) ?? d.maxRadarRx
        maxRadarSamples = try c.decodeIfPresent(Int.self, forKey: .maxRadarSamples) ?? d.maxRadarSamples
        maxRadarChirps = try c.decodeIfPresent(Int.self, forKey: .maxRadarChirps) ?? d.maxRadarChirps
        maxBeams = try c.decodeIfPresent(Int.self, forKey: .maxBeams) ?? d.maxBeams
        maxDepth = try c.decodeIfPresent(Int.self, forKey: .maxDepth) ?? d.maxDepth
    }
}
