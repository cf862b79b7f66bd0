import COpenBLAS

/// The single place where ForesightInference calls OpenBLAS.
///
/// OpenBLAS's thread count is process-wide and concurrent calls serialize, so every matrix product
/// of the engine goes through here, and the thread count is set explicitly with ``configure(threads:)``.
public enum BLAS {
    /// Sets OpenBLAS's (process-wide) worker thread count; values below 1 are treated as 1.
    public static func configure(threads: Int) {
        openblas_set_num_threads(Int32(max(1, threads)))
    }

    /// The current OpenBLAS worker thread count.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Row-major `C = alpha · op(A) · op(B) + beta · C` with `op(A)` m×k, `op(B)` k×n, `C` m×n.
    ///
    /// `lda`, `ldb`, `ldc` are the row strides (in elements) of the stored matrices, which lets
    /// callers multiply strided sub-matrices (for example one attention head inside a QKV buffer).
    @inline(__always)
    static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                      alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Row-major `C[m, n] = A[m, k] · B[k, n]` on whole arrays (for measuring the sgemm ceiling and
    /// for callers outside the engine); returns `false` without computing when a size does not match.
    @discardableResult
    public static func multiply(_ a: [Float], _ b: [Float], into c: inout [Float], m: Int, n: Int, k: Int) -> Bool {
        guard m > 0, n > 0, k > 0, a.count == m * k, b.count == k * n, c.count == m * n else { return false }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    sgemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                          c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return true
    }
}
