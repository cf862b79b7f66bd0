import Testing
@testable import ForesightDaemon
import ForesightPreprocess
import ForesightWire

@Suite struct SegmentTests {
    @Test func segmentsStartAtGapsRestartsAndStampsThatDoNotAdvance() {
        var t = SegmentTracker(resetGap: 1_000_000_000)
        let ms: Int64 = 1_000_000
        var starts: [Bool] = []
        for (stamp, epoch) in [(0, 0), (100, 0), (200, 0), (1_300, 0), (1_400, 0), (1_400, 0), (1_500, 1), (1_600, 1), (1_550, 1)] as [(Int64, UInt64)] {
            starts.append(t.advance(stamp: stamp * ms, epoch: epoch))
        }
        // first frame; a 1.1 s gap; a repeated stamp; a synchronizer restart; a stamp going back.
        #expect(starts == [true, false, false, true, false, true, true, false, true])
        #expect(t.segment == 4)
    }

    @Test func droppingAModalityRemovesItsTensorClassicalViewAndMember() {
        let header = FrameHeader(seq: 1, stamp: 10, members: [
            FusionFrame.Member(modality: .lidar, topic: "sensor/lidar", stamp: 10, seq: 1),
            FusionFrame.Member(modality: .gnss, topic: "sensor/gnss", stamp: 10, seq: 1),
        ], missing: [.camera], reason: .optimal)
        var frame = PreprocessedFrame(header: header, lidarPoints: [SIMD3(1, 2, 3)])
        frame.tensors[.lidar] = PreprocessedTensor(shape: [2], values: [1, 2])
        frame.tensors[.gnss] = PreprocessedTensor(shape: [2], values: [3, 4])
        let f = FrameDrop.apply([.lidar], frame: frame)
        #expect(f.tensors[.lidar] == nil && f.tensors[.gnss] != nil)
        #expect(f.lidarPoints == nil)
        #expect(f.header.members.map(\.modality) == ["gnss"])
        #expect(Set(f.header.missing) == [.camera, .lidar])
        #expect(f.stamp == 10 && f.header.memberStamp(.gnss) == 10 && f.header.memberStamp(.lidar) == nil)
    }
}
