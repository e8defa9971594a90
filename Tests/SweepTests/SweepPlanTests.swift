import XCTest
@testable import Sweep

final class SweepPlanTests: XCTestCase {
    func testJobsComeInPlanOrderWithStableIDs() throws {
        let plan = try makePlan(placements: ["lowest:5", "vision=all;text=none"], folds: 2, repetitions: 2)
        XCTAssertEqual(plan.jobs.map(\.id), [
            "lowest:5|r0|f0", "vision=all;text=none|r0|f0", "zero-shot|r0|f0", "linear-probe|r0|f0",
            "lowest:5|r0|f1", "vision=all;text=none|r0|f1", "zero-shot|r0|f1", "linear-probe|r0|f1",
            "lowest:5|r1|f0", "vision=all;text=none|r1|f0", "zero-shot|r1|f0", "linear-probe|r1|f0",
            "lowest:5|r1|f1", "vision=all;text=none|r1|f1", "zero-shot|r1|f1", "linear-probe|r1|f1",
        ])
        XCTAssertEqual(plan.jobs.map(\.index), Array(0..<16))
        XCTAssertEqual(plan.jobs.map(\.kind).prefix(4), [.fineTune, .fineTune, .zeroShot, .linearProbe])
        XCTAssertEqual(plan.methods, ["lowest:5", "vision=all;text=none", "zero-shot", "linear-probe"])
    }

    func testJobSeedDependsOnRunSeedPlacementFoldAndRepeatOnly() throws {
        let seed = SweepJob.seed(run: 42, placement: "lowest:5", fold: 3, repetition: 0)
        // The derivation is part of the results' identity: changing it changes every published number.
        XCTAssertEqual(seed, SweepJob.seed(run: 42, placement: "lowest:5", fold: 3, repetition: 0))
        XCTAssertEqual(seed, 0xed06_8dc3_6a4c_739c)
        let others = [SweepJob.seed(run: 43, placement: "lowest:5", fold: 3, repetition: 0),
                      SweepJob.seed(run: 42, placement: "lowest:4", fold: 3, repetition: 0),
                      SweepJob.seed(run: 42, placement: "lowest:5", fold: 2, repetition: 0),
                      SweepJob.seed(run: 42, placement: "lowest:5", fold: 3, repetition: 1)]
        XCTAssertEqual(Set(others + [seed]).count, 5)

        // Adding or reordering placements does not change any job's seed.
        let small = try makePlan(placements: ["all", "lowest:2"])
        let large = try makePlan(placements: ["highest:3", "lowest:2", "all", "lowest:7"])
        let seeds = Dictionary(uniqueKeysWithValues: large.jobs.map { ($0.id, $0.seed) })
        for job in small.jobs { XCTAssertEqual(seeds[job.id], job.seed, job.id) }
    }

    func testBadPlansAreRefusedWithOneLine() {
        XCTAssertThrowsError(try makePlan(placements: [])) { XCTAssertEqual("\($0)", "invalid sweep: no placements given") }
        XCTAssertThrowsError(try makePlan(placements: ["all", "all"])) {
            XCTAssertEqual("\($0)", "invalid sweep: placement 'all' is listed twice")
        }
        XCTAssertThrowsError(try makePlan(placements: ["zero-shot"]))
        XCTAssertThrowsError(try makePlan(placements: ["a|b"]))
        XCTAssertThrowsError(try makePlan(folds: 1)) { XCTAssertEqual("\($0)", "invalid sweep: folds must be at least 2, got 1") }
        XCTAssertThrowsError(try makePlan(repetitions: 0))
    }

    func testPlanRoundTripsThroughJSON() throws {
        let plan = try makePlan(seed: UInt64.max - 3, settings: ["lr": .number(2e-4), "lora-targets": .string("q,v"),
                                                                    "classes": .array([.string("non-responder"), .string("responder")]),
                                                                    "no-augment": .bool(true), "init-adapter": .null])
        let data = try plan.encoded()
        XCTAssertEqual(try JSONDecoder().decode(SweepPlan.self, from: data), plan)
        XCTAssertEqual(try plan.encoded(), data, "plan.json is byte-stable")
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.contains("\"seed\" : 18446744073709551612"), text)
        XCTAssertTrue(text.contains("\"id\" : \"lowest:2|r0|f0\""))
        XCTAssertNil(try plan.firstDifference(fromStored: data))
    }

    func testFirstDifferenceNamesTheKey() throws {
        let stored = try makePlan().encoded()
        let changedRate = try makePlan(settings: ["lr": .number(5e-4), "epochs": .number(3)])
        let difference = try XCTUnwrap(try changedRate.firstDifference(fromStored: stored))
        XCTAssertEqual(difference.key, "settings.lr")
        XCTAssertEqual(difference.stored, "0.001")
        XCTAssertEqual(difference.current, "0.0005")

        let morePlacements = try XCTUnwrap(try makePlan(placements: ["lowest:2", "highest:1", "all", "lowest:3"]).firstDifference(fromStored: stored))
        XCTAssertEqual(morePlacements.key, "placements[3]")
        XCTAssertEqual(morePlacements.stored, "absent")
        XCTAssertEqual(morePlacements.current, "\"lowest:3\"")

        let newSetting = try XCTUnwrap(try makePlan(settings: ["lr": .number(1e-3), "epochs": .number(3), "schedule": .string("cosine")])
            .firstDifference(fromStored: stored))
        XCTAssertEqual(newSetting.key, "settings.schedule")

        XCTAssertEqual(try makePlan(seed: 8).firstDifference(fromStored: stored)?.key, "seed")
        // Seeds beyond 2^53 are compared exactly, not as JSON doubles.
        let large = try XCTUnwrap(try makePlan(seed: 1 << 60 + 1).firstDifference(fromStored: try makePlan(seed: 1 << 60).encoded()))
        XCTAssertEqual(large.key, "seed")
        XCTAssertEqual(large.stored, "\(UInt64(1) << 60)")
        XCTAssertEqual(try makePlan(folds: 4).firstDifference(fromStored: stored)?.key, "folds")
    }

    func testNotesAreNotCompared() throws {
        let plan = try makePlan()
        let moved = try SweepPlan(settings: plan.settings, placements: plan.placements, folds: plan.folds, repetitions: plan.repetitions,
                                  seed: plan.seed, cohortHash: plan.cohortHash, checkpointHash: plan.checkpointHash,
                                  versions: plan.versions, notes: ["model": "/elsewhere/tiny"])
        XCTAssertNil(try moved.firstDifference(fromStored: try plan.encoded()))
    }

    func testJSONValueDescriptions() throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"b":[1,2.5,"x"],"a":true,"c":null,"d":1e-5}"#.utf8))
        XCTAssertEqual(value.description, #"{"a":true,"b":[1,2.5,"x"],"c":null,"d":1e-05}"#)
    }
}
