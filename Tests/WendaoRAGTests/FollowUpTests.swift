import Foundation
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
@testable import WendaoRAG

/// Follow-up questions without a model: the previous question's topic carried into retrieval.
@Suite struct FollowUpTests {
    @Test func detectsEllipticalFollowUpsOnly() throws {
        let f = try #require(FollowUp.detect("那北京呢？", previousQuestion: "寄到上海的运费是多少？"))
        #expect(f.topic.contains("运费") && f.topic.contains("上海"))
        #expect(!f.topic.contains("多少"))
        let en = try #require(
            FollowUp.detect("What about Shanghai?", previousQuestion: "How much is shipping to Beijing?"))
        #expect(en.topic.contains("shipping") && en.topic.contains("Beijing"))
        #expect(!en.topic.lowercased().contains("how"))
        #expect(FollowUp.detect("多少钱？", previousQuestion: "冷链保温箱怎么租？")?.topic.contains("冷链保温箱") == true)
        #expect(
            FollowUp.detect("Does it need a signature?", previousQuestion: "How is a parcel to Japan insured?") != nil)
        // A question that names its own topic stands alone.
        #expect(FollowUp.detect("保价费怎么算？", previousQuestion: "首重收费多少钱？") == nil)
        #expect(
            FollowUp.detect("When does the depot open on Sundays?", previousQuestion: "How much is shipping?") == nil)
        // Nothing to carry: no follow-up.
        #expect(FollowUp.detect("那呢？", previousQuestion: "什么？") == nil)
        // A chain carries the earlier topic on.
        let second = try #require(FollowUp.detect("那广州呢？", previousQuestion: "那北京呢？", previousTopic: f.topic))
        #expect(second.topic.contains("北京") && second.topic.contains("运费"))
    }

    /// Follow-up pairs over a knowledge base where the follow-up alone is ambiguous: each city has
    /// a price, a delivery time and a service desk. Measured with and without the carried topic.
    @Test func followUpsAreAnsweredFromTheRightPassage() throws {
        let scratch = try ScratchDirectory("follow-up")
        defer { scratch.remove() }
        try scratch.write(
            "src/cities.md",
            """
            # 城市服务

            ## 上海
            寄往上海的快递运费为每公斤10元。
            寄往上海的包裹一般2天送达。
            上海服务网点位于浦东新区世纪大道100号。

            ## 北京
            寄往北京的快递运费为每公斤12元。
            寄往北京的包裹一般3天送达。
            北京服务网点位于朝阳区建国路88号。

            ## 广州
            寄往广州的快递运费为每公斤9元。
            寄往广州的包裹一般4天送达。
            广州服务网点位于天河区体育西路5号。

            """)
        try scratch.write(
            "src/services.md",
            """
            # Services

            ## Cold chain
            Cold-chain boxes are rented at 30 yuan per day. Cold-chain parcels need a signature on delivery.

            ## Insurance
            Parcel insurance costs 1% of the declared value. Insured parcels are delivered in 2 days.

            ## Storage
            Storage at the depot is free for 3 days, then costs 5 yuan per day.
            """)
        let lib = try Library(directory: scratch.child("data"))
        _ = try lib.create("cities")
        let kb = try lib.open("cities")
        _ = try kb.ingest([scratch.child("src").path])
        // (previous question, follow-up, text the answer must hold, texts it must not hold: the
        // earlier topic's fact, or the same city's unrelated facts)
        let pairs: [(String, String, String, [String])] = [
            ("寄往上海的运费是多少？", "那北京呢？", "每公斤12元", ["每公斤10元", "3天送达", "建国路"]),
            ("寄往上海的运费是多少？", "那广州呢？", "每公斤9元", ["每公斤10元", "4天送达", "体育西路"]),
            ("寄往北京的包裹几天送达？", "那广州呢？", "4天送达", ["3天送达", "每公斤9元", "体育西路"]),
            ("寄往广州的包裹几天送达？", "上海呢？", "2天送达", ["4天送达", "每公斤10元", "世纪大道"]),
            ("北京服务网点在哪里？", "那上海呢？", "世纪大道", ["建国路", "每公斤10元", "2天送达"]),
            ("How much does a cold-chain box cost?", "Does it need a signature?", "signature on delivery", ["1% of"]),
            ("How much is parcel insurance?", "How fast is it delivered?", "2 days", ["30 yuan", "5 yuan"]),
            ("How long is storage at the depot free?", "And after that?", "5 yuan per day", ["30 yuan"]),
        ]
        func precise(_ a: Answer?, _ expected: String, _ unexpected: [String]) -> Bool {
            guard let a, a.found, a.answer.contains(expected) else { return false }
            return !unexpected.contains { a.answer.contains($0) }
        }
        var withCarry = 0
        var without = 0
        for (previous, question, expected, unexpected) in pairs {
            let followUp = FollowUp.detect(question, previousQuestion: previous)
            #expect(followUp != nil, "\(question) after \(previous) is a follow-up")
            let carried = try kb.ask(question, followUp: followUp)
            // Alone, a follow-up of question words only has nothing to search (an error: not answered).
            let alone = try? kb.ask(question)
            print(
                "follow-up \(question) after \(previous) [\(followUp?.topic ?? "-")]: \(carried.answer.prefix(70)) | "
                    + "alone: \(alone?.answer.prefix(70) ?? "(nothing to search)")")
            if precise(carried, expected, unexpected) {
                withCarry += 1
                // The answer cites the passage it quotes.
                #expect(carried.citations.contains { $0.text.contains(expected) }, "\(question): \(carried.citations)")
            }
            if precise(alone, expected, unexpected) { without += 1 }
        }
        print(
            "follow-up pairs answered precisely: \(withCarry)/\(pairs.count) with the carried topic, \(without) without"
        )
        #expect(withCarry >= 7)
        #expect(withCarry > without)
    }
}
