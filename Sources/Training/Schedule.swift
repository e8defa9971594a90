import Foundation

/// Learning-rate schedules as transformers defines them, by optimizer step `t = 1, 2, …, total`
/// (the scheduler has been stepped `t − 1` times when step `t` runs):
///   constant: lr · min(1, (t−1)/warmup)          (`get_constant_schedule_with_warmup`)
///   cosine:   lr · (t−1)/warmup during warmup, then lr · ½(1 + cos(π · (t−1−warmup)/(total−warmup)))
///             (`get_cosine_schedule_with_warmup`, half a cycle)
public enum LearningRateSchedule: String, Codable, Sendable, CaseIterable {
    case constant, cosine

    public func learningRate(base: Double, step: Int, warmupSteps: Int, totalSteps: Int) -> Double {
        let completed = Double(step - 1)
        if completed < Double(warmupSteps) { return base * completed / Double(max(1, warmupSteps)) }
        switch self {
        case .constant: return base
        case .cosine:
            let progress = (completed - Double(warmupSteps)) / Double(max(1, totalSteps - warmupSteps))
            return base * max(0, 0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
