/// Why an import or export step failed. Every case names the file (or row) and says what to do.
public enum InteropError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A file named by the input does not exist.
    case missingFile(path: String)
    /// A file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// A file is larger than the importer accepts.
    case tooLarge(path: String, size: Int, limit: Int)
    /// A `.npy` file is malformed or of an unsupported kind.
    case npy(path: String, reason: String)
    /// A MATLAB `.mat` file is malformed, or holds no usable numeric array.
    case mat(path: String, reason: String)
    /// A MATLAB v7.3 `.mat` file (an HDF5 container), which the MAT-file reader does not read.
    case matHDF5(path: String)
    /// A `.ply` file is malformed or of an unsupported kind.
    case ply(path: String, reason: String)
    /// An image file is not a readable JPEG.
    case image(path: String, reason: String)
    /// A small text file (power vector, GPS position) is malformed.
    case text(path: String, reason: String)
    /// The scenario CSV is malformed or lacks what the import needs.
    case csv(path: String, reason: String)
    /// A format the importer does not read, with the conversion to use instead.
    case unsupported(path: String, reason: String)
    /// Bad options or an impossible request.
    case usage(String)
    /// Writing the output failed.
    case output(String)

    /// A short machine-readable name of the failure, used as the skip reason in import reports.
    public var kind: String {
        switch self {
        case .missingFile: return "missing_file"
        case .unreadable: return "unreadable_file"
        case .tooLarge: return "file_too_large"
        case .npy: return "bad_npy"
        case .mat: return "bad_mat"
        case .matHDF5: return "mat_v73_hdf5"
        case .ply: return "bad_ply"
        case .image: return "bad_jpeg"
        case .text: return "bad_text"
        case .csv: return "bad_csv"
        case .unsupported: return "unsupported_format"
        case .usage: return "usage"
        case .output: return "output"
        }
    }

    public var description: String {
        switch self {
        case .missingFile(let path): return "\(path): no such file (the scenario CSV names it; check the path column and the folder)"
        case .unreadable(let path, let reason): return "\(path): cannot be read: \(reason)"
        case .tooLarge(let path, let size, let limit): return "\(path): \(size) bytes is more than the \(limit) bytes accepted"
        case .npy(let path, let reason): return "\(path): not a usable .npy file: \(reason)"
        case .mat(let path, let reason): return "\(path): not a usable MAT-file: \(reason)"
        case .matHDF5(let path):
            return "\(path): a MATLAB v7.3 (HDF5) MAT-file, which is not read; re-save it as v7 in MATLAB (save(f, 'data', '-v7')) "
                + "or convert it with h5py/NumPy to a complex64 .npy and point the CSV at it"
        case .ply(let path, let reason): return "\(path): not a usable ASCII .ply file: \(reason)"
        case .image(let path, let reason): return "\(path): \(reason)"
        case .text(let path, let reason): return "\(path): \(reason)"
        case .csv(let path, let reason): return "\(path): \(reason)"
        case .unsupported(let path, let reason): return "\(path): unsupported: \(reason)"
        case .usage(let reason): return reason
        case .output(let reason): return "writing the output failed: \(reason)"
        }
    }
}
