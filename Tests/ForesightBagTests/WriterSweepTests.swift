import Foundation
import Testing
@testable import ForesightBag

/// MCAP files from another writer: every option combination of the official Python `mcap`
/// Writer (1,008 files, see Tools/mcap_sweep.py) must read completely — topics with their counts,
/// every message in log-time order with its bytes, attachments and metadata counted.
@Suite(.serialized) struct WriterSweepTests {
    struct Expected {
        var file: String
        var input: String
        var topics: [String: UInt64]
        var messages: [[String]]  // [topic, log_time, sha256]
        var attachments: UInt64
        var metadata: UInt64
    }

    /// Generates the sweep with the .venv Python writer into a temporary folder.
    static func generate() throws -> (URL, [Expected]) {
        let dir = temporaryDirectory()
        let result = try python("mcap_sweep.py", [dir.path])
        guard result.status == 0 else {
            Issue.record("Tools/mcap_sweep.py failed (run Tools/setup.sh for the .venv mcap package): \(result.stderr)")
            throw CancellationError()
        }
        let data = try Data(contentsOf: dir.appendingPathComponent("manifest.json"))
        let rows = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let expected = rows.compactMap { row -> Expected? in
            guard let file = row["file"] as? String, let input = row["input"] as? String,
                  let topics = row["topics"] as? [String: NSNumber], let messages = row["messages"] as? [[Any]],
                  let attachments = row["attachments"] as? NSNumber, let metadata = row["metadata"] as? NSNumber else { return nil }
            return Expected(file: file, input: input, topics: topics.mapValues(\.uint64Value),
                            messages: messages.map { $0.map { "\($0)" } },
                            attachments: attachments.uint64Value, metadata: metadata.uint64Value)
        }
        return (dir, expected)
    }

    @Test func everyPythonWriterVariantReads() throws {
        let (dir, expected) = try Self.generate()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(expected.count == 1008)
        var failures: [String] = []
        var summariesWithoutChannels = 0
        for item in expected {
            let path = dir.appendingPathComponent(item.file).path
            do {
                let reader = try BagReader(path: path)
                #expect(reader.isClosed, "\(item.file) reported as not closed")
                let info = try reader.info()
                let topics = Dictionary(info.topics.map { ($0.topic, $0.messageCount) }, uniquingKeysWith: +)
                if topics != item.topics { failures.append("\(item.file): topics \(topics), expected \(item.topics)") }
                if info.summary.messageCount != UInt64(item.messages.count) {
                    failures.append("\(item.file): \(info.summary.messageCount) messages, expected \(item.messages.count)")
                }
                if info.summary.attachmentCount != item.attachments || info.summary.metadataCount != item.metadata {
                    failures.append("\(item.file): attachments \(info.summary.attachmentCount), metadata \(info.summary.metadataCount)")
                }
                // What replay and eval read: the message cursor.
                let cursor = try reader.messages()
                var got: [[String]] = []
                while let entry = try cursor.next() {
                    got.append([entry.channel.topic, "\(entry.message.logTime)", sha256Hex(entry.message.data)])
                }
                if got != item.messages { failures.append("\(item.file): messages \(got.count) differ from the \(item.messages.count) written") }
                if item.file.contains("_stats_norepeat_"), !item.messages.isEmpty, info.summary.indexed { summariesWithoutChannels += 1 }
            } catch {
                failures.append("\(item.file): \(error)")
            }
        }
        let report = failures.prefix(20).joined(separator: "\n")
        #expect(failures.isEmpty, "\(failures.count) of \(expected.count) files misread:\n\(report)")
        // The files of the original fault (statistics in the summary, channels only in the data
        // section) are among them and are read through their summary, not by a fallback scan.
        #expect(summariesWithoutChannels >= 40)
    }

    /// `foresight bag info --json` and `foresight echo` on files whose summary lacks the channels.
    @Test func bagInfoListsTopicsOfSummariesWithoutChannels() throws {
        let binary = try #require(foresightBinary, missingBinary)
        let (dir, expected) = try Self.generate()
        defer { try? FileManager.default.removeItem(at: dir) }
        let names: Set<String> = [
            "unchunked_index-all_stats_norepeat_offsets_one.mcap",
            "chunk-zstd-1048576_index-all_stats_norepeat_offsets_ten.mcap",
            "chunk-lz4-64_index-chunk_stats_norepeat_nooffsets_ten.mcap",
            "chunk-none-64_index-all_stats_norepeat_offsets_schemaless.mcap",
            "chunk-zstd-64_index-none_nostats_norepeat_offsets_ten.mcap",
            "chunk-lz4-1048576_index-all_stats_norepeat_offsets_one.mcap",
        ]
        let samples = expected.filter { names.contains($0.file) }
        #expect(samples.count >= 6)
        for item in samples {
            let path = dir.appendingPathComponent(item.file).path
            let result = try run(binary, ["bag", "info", "--json", path])
            #expect(result.status == 0, "\(item.file): \(result.stderr)")
            let json = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
            let rows = json?["topics"] as? [[String: Any]] ?? []
            let topics = Dictionary(rows.compactMap { row -> (String, UInt64)? in
                guard let topic = row["topic"] as? String, let count = row["count"] as? NSNumber else { return nil }
                return (topic, count.uint64Value)
            }, uniquingKeysWith: +)
            #expect(topics == item.topics, "\(item.file)")
            #expect((json?["messages"] as? NSNumber)?.intValue == item.messages.count)
            let echo = try run(binary, ["echo", path, "--json"])
            #expect(echo.status == 0, "\(item.file): \(echo.stderr)")
            let lines = String(decoding: echo.stdout, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == item.messages.count, "echo printed \(lines.count) lines for \(item.file)")
        }
    }
}
