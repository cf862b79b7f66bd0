/// The points of one LiDAR cloud bucketed by their east/north cell, so that a search around a
/// position visits the cells it reaches instead of the whole cloud.
///
/// Built once per frame (``FrameView/lidarGrid``) and read by every window the frame is part of:
/// the classical predictor searches each of a window's 8 clouds for the UE's car, so without the
/// grid every cloud would be scanned 8 times. Immutable after creation. Points are kept in cell
/// order (rows of cells north, cells east within a row), in their cloud order within a cell; points
/// with a non-finite east or north coordinate are left out (no distance test can accept them).
public final class LidarGrid: Sendable, Equatable {
    /// Side of a square cell, metres.
    public let cellSize: Float
    /// The points, in cell order.
    public let points: [SIMD3<Float>]
    private let originX: Float
    private let originY: Float
    private let columns: Int
    private let rows: Int
    /// `cellStart[c] ..< cellStart[c + 1]` are the points of cell c (row-major).
    private let cellStart: [Int32]

    /// Most cells a grid may have; a cloud spread wider (a stray point far away) gets no grid.
    public static let maxCells = 1 << 20

    /// Buckets `points` into cells of `cellSize` metres, or nil when there is no finite point, the
    /// cell size is not a finite positive value, or the cloud would need more than ``maxCells`` cells.
    public init?(points cloud: [SIMD3<Float>], cellSize: Float = 2) {
        guard cellSize.isFinite, cellSize > 0, cloud.count < Int(Int32.max) else { return nil }
        var lo = SIMD2<Float>(.infinity, .infinity), hi = SIMD2<Float>(-.infinity, -.infinity)
        var finite = 0
        for p in cloud where p.x.isFinite && p.y.isFinite {
            let q = SIMD2(p.x, p.y)
            lo = pointwiseMin(lo, q)
            hi = pointwiseMax(hi, q)
            finite += 1
        }
        guard finite > 0 else { return nil }
        let spanX = Double((hi.x - lo.x) / cellSize), spanY = Double((hi.y - lo.y) / cellSize)
        guard spanX.isFinite, spanY.isFinite, (spanX + 1) * (spanY + 1) <= Double(Self.maxCells) else { return nil }
        let columns = Int(spanX) + 1, rows = Int(spanY) + 1
        // Counting sort by cell: stable, so each cell keeps the cloud's order.
        var counts = [Int32](repeating: 0, count: columns * rows + 1)
        var cellOf = [Int32](repeating: -1, count: cloud.count)
        for (i, p) in cloud.enumerated() where p.x.isFinite && p.y.isFinite {
            let cx = min(Int((p.x - lo.x) / cellSize), columns - 1), cy = min(Int((p.y - lo.y) / cellSize), rows - 1)
            let c = cy * columns + cx
            cellOf[i] = Int32(c)
            counts[c + 1] += 1
        }
        for c in 0..<(columns * rows) { counts[c + 1] += counts[c] }
        var next = counts
        var sorted = [SIMD3<Float>](repeating: .zero, count: finite)
        for (i, p) in cloud.enumerated() where cellOf[i] >= 0 {
            let c = Int(cellOf[i])
            sorted[Int(next[c])] = p
            next[c] += 1
        }
        self.cellSize = cellSize
        self.points = sorted
        originX = lo.x
        originY = lo.y
        self.columns = columns
        self.rows = rows
        cellStart = counts
    }

    /// Calls `body` with the points of every cell that overlaps the square of half-side `radius`
    /// around `centre` — a superset of the points within `radius` of it — one contiguous run of
    /// cells per row.
    public func withPoints(near centre: SIMD2<Float>, within radius: Float, _ body: (UnsafeBufferPointer<SIMD3<Float>>) -> Void) {
        guard centre.x.isFinite, centre.y.isFinite, radius.isFinite, radius >= 0 else { return }
        func cell(_ v: Float, _ origin: Float, _ count: Int) -> Int {
            let c = ((v - origin) / cellSize).rounded(.down)
            return Int(min(max(c, -2), Float(count + 1)))
        }
        let sx0 = cell(centre.x - radius, originX, columns), sx1 = cell(centre.x + radius, originX, columns)
        let sy0 = cell(centre.y - radius, originY, rows), sy1 = cell(centre.y + radius, originY, rows)
        // One cell more on every side (a distance test in floats may accept a point an ulp outside
        // the square); a square two cells or more off the grid reaches nothing.
        guard sx1 >= -1, sx0 <= columns, sy1 >= -1, sy0 <= rows else { return }
        let x0 = max(sx0 - 1, 0), x1 = min(sx1 + 1, columns - 1), y0 = max(sy0 - 1, 0), y1 = min(sy1 + 1, rows - 1)
        guard x0 <= x1, y0 <= y1 else { return }
        points.withUnsafeBufferPointer { all in
            guard let base = all.baseAddress else { return }
            for y in y0...y1 {
                let start = Int(cellStart[y * columns + x0]), end = Int(cellStart[y * columns + x1 + 1])
                if end > start { body(UnsafeBufferPointer(start: base + start, count: end - start)) }
            }
        }
    }

    /// Two grids are equal when they bucket the same points the same way.
    public static func == (lhs: LidarGrid, rhs: LidarGrid) -> Bool {
        lhs === rhs || (lhs.cellSize == rhs.cellSize && lhs.originX == rhs.originX && lhs.originY == rhs.originY
                        && lhs.columns == rhs.columns && lhs.rows == rhs.rows && lhs.points == rhs.points)
    }
}
