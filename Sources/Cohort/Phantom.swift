import BLASCore
import Foundation

/// What a synthetic phantom cohort looks like. The data are synthetic: CT-like axial slices of an abdomen with
/// a liver lesion whose look depends on the label only as much as `signal` says.
public struct PhantomSettings: Equatable, Sendable {
    public var cases = 182
    /// Cases with label 1 (responders); the seed study had 124 responders and 58 non-responders.
    public var responders = 124
    public var seed: UInt64 = 0
    /// How strongly lesion size, texture heterogeneity and margin irregularity depend on the label, in standard
    /// deviations of each trait between the classes (0: no signal at all, images do not depend on the label).
    public var signal: Double = 1
    /// Slices are `size × size` pixels over a 360 mm field of view.
    public var size = 224
    /// Slices per volume (5 mm apart); the lesion is largest on the middle one.
    public var slices = 5
    /// Standard deviation of the (spatially correlated) image noise, in HU.
    public var noiseHU: Float = 12

    public static let fieldOfViewMM: Float = 360
    public static let sliceThicknessMM: Float = 5

    public init() {}

    public init(cases: Int, responders: Int, seed: UInt64, signal: Double = 1, size: Int = 224, slices: Int = 5) {
        self.cases = cases
        self.responders = responders
        self.seed = seed
        self.signal = signal
        self.size = size
        self.slices = slices
    }

    /// Throws a `PhantomSettingsError` naming the setting that cannot work.
    public func validate() throws {
        guard cases >= 1 else { throw PhantomSettingsError("cases must be at least 1, got \(cases)") }
        guard (0...cases).contains(responders) else {
            throw PhantomSettingsError("responders must lie between 0 and the number of cases (\(cases)), got \(responders)")
        }
        guard (32...2048).contains(size) else { throw PhantomSettingsError("size must lie between 32 and 2048 pixels, got \(size)") }
        guard (1...64).contains(slices) else { throw PhantomSettingsError("slices must lie between 1 and 64, got \(slices)") }
        guard signal >= 0, signal.isFinite else { throw PhantomSettingsError("signal must be a number ≥ 0, got \(signal)") }
        guard noiseHU >= 0, noiseHU.isFinite else { throw PhantomSettingsError("noise must be ≥ 0 HU, got \(noiseHU)") }
    }
}

public struct PhantomSettingsError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = "phantom: " + description }
}

/// The lesion traits that carry the label.
public struct LesionTraits: Equatable, Sendable {
    /// Radius of the (irregular) lesion at its widest slice.
    public var radiusMM: Float
    /// Amplitude of the texture inside the lesion (HU), which also sets the size of a darker necrotic core.
    public var heterogeneityHU: Float
    /// Relative amplitude of the margin's lobulation (0 = a circle).
    public var irregularity: Float
}

/// One synthetic case: an int16 HU volume and its lesion mask.
public struct PhantomCase: Sendable {
    public let id: String
    /// 1 = responder, 0 = non-responder.
    public let label: Int
    public let size: Int
    public let slices: Int
    /// HU, `size × size × slices`, x fastest (`[x + size·(y + size·z)]`); air is −1000.
    public let hounsfield: [Int16]
    /// 1 inside the lesion, same layout.
    public let lesionMask: [UInt8]
    public let lesion: LesionTraits

    /// The slice through the lesion's center (where its mask is largest).
    public var keySlice: Int { slices / 2 }

    /// Slice `z` in HU.
    public func slice(_ z: Int) -> GrayImage {
        let plane = size * size
        return GrayImage(width: size, height: size, pixels: hounsfield[(z * plane)..<((z + 1) * plane)].map(Float.init))
    }
}

/// A synthetic cohort, one case at a time: `makeCase(i)` depends only on the settings and `i`, so cases can be
/// made in any order or in parallel.
public struct PhantomCohort: Sendable {
    public let settings: PhantomSettings
    /// The label of each case: `settings.responders` ones, shuffled by the seed.
    public let labels: [Int]

    public init(_ settings: PhantomSettings) throws {
        try settings.validate()
        self.settings = settings
        var labels = Array(repeating: 1, count: settings.responders) + Array(repeating: 0, count: settings.cases - settings.responders)
        // Fisher–Yates written out, so the order never depends on the standard library's shuffle.
        var generator = SeededGenerator(seed: settings.seed, stream: "phantom", "labels")
        for i in stride(from: labels.count - 1, to: 0, by: -1) {
            labels.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        self.labels = labels
    }

    public func caseID(_ index: Int) -> String {
        let digits = max(3, String(settings.cases - 1).count)
        let number = String(index)
        return "case_" + String(repeating: "0", count: digits - number.count) + number
    }

    public func makeCase(_ index: Int) -> PhantomCase {
        precondition(labels.indices.contains(index), "case \(index) is not in a cohort of \(labels.count)")
        return makeCase(index, label: labels[index])
    }

    /// Case `index` as it would look with `label`. The random draws never depend on the label, so with signal 0
    /// both labels give the same image.
    func makeCase(_ index: Int, label: Int) -> PhantomCase {
        var generator = SeededGenerator(seed: settings.seed, stream: "phantom", "case", String(index))
        let anatomy = Anatomy(using: &generator)
        let traits = LesionDraw(using: &generator, anatomy: anatomy)
        let lesion = traits.traits(label: label, signal: Float(settings.signal))
        let size = settings.size, plane = size * size
        var hounsfield = [Int16](repeating: 0, count: plane * settings.slices)
        var mask = [UInt8](repeating: 0, count: plane * settings.slices)
        var canvas = Canvas(size: size)
        for z in 0..<settings.slices {
            let offsetMM = Float(z - settings.slices / 2) * PhantomSettings.sliceThicknessMM
            canvas.reset()
            anatomy.paint(on: &canvas, offsetMM: offsetMM)
            traits.paint(lesion, on: &canvas, offsetMM: offsetMM, mask: &mask[(z * plane)..<((z + 1) * plane)])
            canvas.addNoise(standardDeviation: settings.noiseHU, using: &generator)
            for i in 0..<plane {
                hounsfield[z * plane + i] = Int16(min(max(canvas.values[i].rounded(), -1024), 3071))
            }
        }
        return PhantomCase(id: caseID(index), label: label, size: size, slices: settings.slices,
                           hounsfield: hounsfield, lesionMask: mask, lesion: lesion)
    }
}

// MARK: - Drawing

/// A slice being drawn, in HU. Coordinates: u to the image's right, v down, both −1…1 across the field of view
/// (1 = 180 mm). Shapes are painted in order with antialiased edges (coverage from the distance to the edge).
struct Canvas {
    let size: Int
    /// One pixel in normalized units.
    let pixel: Float
    var values: [Float]

    init(size: Int) {
        self.size = size
        pixel = 2 / Float(size)
        values = [Float](repeating: -1000, count: size * size)
    }

    mutating func reset() { values.withUnsafeMutableBufferPointer { $0.update(repeating: -1000) } }

    /// Pixel index range covering normalized coordinates `low…high`.
    func pixels(_ low: Float, _ high: Float) -> Range<Int> {
        let first = max(Int(((low + 1) / pixel).rounded(.down)) - 1, 0)
        let last = min(Int(((high + 1) / pixel).rounded(.up)) + 1, size)
        return first..<max(first, last)
    }

    /// Blends `value(u, v)` in with weight `coverage(u, v)` over the box `center ± radius`.
    mutating func paint(center: (Float, Float), radius: Float, coverage: (Float, Float) -> Float,
                        value: (Float, Float) -> Float) {
        let rows = pixels(center.1 - radius, center.1 + radius), columns = pixels(center.0 - radius, center.0 + radius)
        for y in rows {
            let v = (Float(y) + 0.5) * pixel - 1
            for x in columns {
                let u = (Float(x) + 0.5) * pixel - 1
                let c = coverage(u, v)
                if c > 0 { values[y * size + x] += c * (value(u, v) - values[y * size + x]) }
            }
        }
    }

    mutating func paint(_ ellipse: Ellipse, hu: Float) {
        let pixel = self.pixel
        paint(center: ellipse.center, radius: max(ellipse.a, ellipse.b), coverage: { ellipse.coverage($0, $1, pixel: pixel) },
              value: { _, _ in hu })
    }

    /// Gaussian noise smoothed by a [1 2 1]/4 kernel in each direction (CT noise is spatially correlated),
    /// scaled so its standard deviation is `standardDeviation`.
    mutating func addNoise(standardDeviation: Float, using generator: inout SeededGenerator) {
        guard standardDeviation > 0 else { return }
        let n = size
        var white = [Float](repeating: 0, count: n * n)
        // The smoothing shrinks the standard deviation by (6/16) per direction: 0.375 overall in 2-D.
        let scale = standardDeviation / 0.375
        var i = 0
        while i < white.count {  // Marsaglia's polar method: two normals per accepted pair, no trigonometry
            let x = 2 * generator.nextUniformDouble() - 1, y = 2 * generator.nextUniformDouble() - 1
            let r = x * x + y * y
            guard r > 0, r < 1 else { continue }
            let factor = (-2 * log(r) / r).squareRoot() * Double(scale)
            white[i] = Float(x * factor)
            if i + 1 < white.count { white[i + 1] = Float(y * factor) }
            i += 2
        }
        var rows = [Float](repeating: 0, count: n * n)
        for y in 0..<n {
            for x in 0..<n {
                let left = white[y * n + max(x - 1, 0)], right = white[y * n + min(x + 1, n - 1)]
                rows[y * n + x] = 0.25 * left + 0.5 * white[y * n + x] + 0.25 * right
            }
        }
        for y in 0..<n {
            let up = max(y - 1, 0) * n, down = min(y + 1, n - 1) * n
            for x in 0..<n {
                values[y * n + x] += 0.25 * rows[up + x] + 0.5 * rows[y * n + x] + 0.25 * rows[down + x]
            }
        }
    }
}

/// A rotated ellipse in normalized units.
struct Ellipse {
    var center: (Float, Float)
    let a: Float
    let b: Float
    let angle: Float
    private let cosine: Float, sine: Float

    init(center: (Float, Float), a: Float, b: Float, angle: Float = 0) {
        self.center = center
        self.a = a
        self.b = b
        self.angle = angle
        cosine = cos(angle)
        sine = sin(angle)
    }

    /// Fraction of a pixel inside, from the first-order distance to the edge.
    func coverage(_ u: Float, _ v: Float, pixel: Float) -> Float {
        let du = u - center.0, dv = v - center.1
        let p = (cosine * du + sine * dv) / a, q = (cosine * dv - sine * du) / b
        let rho = (p * p + q * q).squareRoot()
        // |∇rho| = |(p/a, q/b)| / rho; distance ≈ (rho − 1) / |∇rho|.
        let gradient = ((p / a) * (p / a) + (q / b) * (q / b)).squareRoot()
        let distance = (rho - 1) * rho / max(gradient, 1e-6)
        return min(max(0.5 - distance / pixel, 0), 1)
    }

    func scaled(_ factor: Float) -> Ellipse { Ellipse(center: center, a: a * factor, b: b * factor, angle: angle) }
}

/// The per-case anatomy of an upper-abdominal axial slice (level of liver, stomach, kidneys and spleen; no
/// contrast agent), drawn once per case; `paint` renders it at a slice offset (organs change size slowly along z).
struct Anatomy {
    var body: Ellipse
    var fatThickness: Float
    var liver: Ellipse
    var gallbladder: Ellipse
    var spleen: Ellipse
    var stomach: Ellipse
    /// Where the stomach's air meets its fluid (supine: air on top, toward v = −1).
    var stomachAirLevel: Float
    var pancreas: Ellipse
    var kidneys: [Ellipse]
    var vertebra: Ellipse
    var aorta: Ellipse
    var vena: Ellipse
    var bowel: [(wall: Ellipse, lumenHU: Float)]
    var ribs: [Ellipse]
    /// Per-organ growth along z (fraction per 10 mm), so neighbouring slices differ.
    var taper: [Float]
    /// Tissue HU that vary between patients.
    var liverHU: Float, muscleHU: Float, fatHU: Float

    init(using generator: inout SeededGenerator) {
        func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * generator.nextUniform() }
        // Locals first: the closures below must not capture a partly initialized self.
        let body = Ellipse(center: (uniform(-0.03, 0.03), uniform(0.0, 0.06)), a: uniform(0.74, 0.88), b: uniform(0.54, 0.64))
        let fatThickness = uniform(0.05, 0.12)
        let top = body.center.1 - body.b, cavityTop = top + fatThickness + 0.05
        // The patient's right is the image's left (radiological view): liver left, spleen and stomach right.
        let liver = Ellipse(center: (body.center.0 - uniform(0.30, 0.36), top + uniform(0.48, 0.54)),
                            a: uniform(0.32, 0.38), b: uniform(0.34, 0.4), angle: uniform(-0.3, 0.1))
        self.liver = liver
        gallbladder = Ellipse(center: (liver.center.0 + liver.a * uniform(0.45, 0.6), liver.center.1 - liver.b * uniform(0.3, 0.5)),
                              a: uniform(0.04, 0.06), b: uniform(0.03, 0.045), angle: uniform(-0.6, 0.6))
        spleen = Ellipse(center: (body.center.0 + uniform(0.48, 0.55), body.center.1 + uniform(0.05, 0.14)),
                         a: uniform(0.08, 0.11), b: uniform(0.15, 0.2), angle: uniform(-0.6, -0.3))
        let stomach = Ellipse(center: (body.center.0 + uniform(0.28, 0.38), cavityTop + uniform(0.16, 0.22)),
                              a: uniform(0.16, 0.22), b: uniform(0.11, 0.15), angle: uniform(-0.5, -0.1))
        self.stomach = stomach
        stomachAirLevel = stomach.center.1 - stomach.b * uniform(0.1, 0.6)
        let spineY = body.center.1 + body.b - fatThickness - uniform(0.22, 0.26)
        let vertebra = Ellipse(center: (body.center.0, spineY), a: uniform(0.095, 0.11), b: uniform(0.085, 0.1))
        pancreas = Ellipse(center: (body.center.0 + uniform(0.05, 0.12), spineY - vertebra.b - uniform(0.15, 0.19)),
                           a: uniform(0.16, 0.2), b: uniform(0.035, 0.045), angle: uniform(-0.35, -0.15))
        kidneys = [-1, 1].map { (side: Float) in
            Ellipse(center: (body.center.0 + side * uniform(0.28, 0.33), spineY - uniform(0.0, 0.05)),
                    a: uniform(0.07, 0.09), b: uniform(0.12, 0.15), angle: side * uniform(0.3, 0.5))
        }
        aorta = Ellipse(center: (body.center.0 + uniform(0.04, 0.07), spineY - vertebra.b - uniform(0.05, 0.06)),
                        a: 0.045, b: 0.045)
        vena = Ellipse(center: (body.center.0 - uniform(0.1, 0.14), spineY - vertebra.b - uniform(0.05, 0.07)),
                       a: uniform(0.05, 0.06), b: uniform(0.03, 0.04))
        // Small-bowel and colon loops through the middle and front of the abdomen (organs are painted over them).
        bowel = (0..<14).map { _ in
            let wall = Ellipse(center: (body.center.0 + uniform(-0.3, 0.6), cavityTop + uniform(0.05, 0.62)),
                               a: uniform(0.04, 0.085), b: uniform(0.035, 0.07), angle: uniform(0, .pi))
            let contents = generator.nextUniform()
            return (wall, contents < 0.3 ? -900 : contents < 0.75 ? uniform(5, 25) : uniform(-80, 20))
        }
        ribs = (0..<8).map { i in
            // Along the inside of the abdominal wall, on the lateral and posterior arc.
            let side: Float = i < 4 ? -1 : 1
            let angle = Float.pi / 2 + side * (0.55 + 0.28 * Float(i % 4) + uniform(0, 0.05))
            let shrink = 1 - (fatThickness + 0.045) / body.b
            return Ellipse(center: (body.center.0 + body.a * shrink * cos(angle) * 1.02, body.center.1 + body.b * shrink * sin(angle)),
                           a: 0.022, b: 0.038, angle: angle)
        }
        self.body = body
        self.fatThickness = fatThickness
        self.vertebra = vertebra
        taper = (0..<6).map { _ in uniform(-0.12, 0.12) }
        liverHU = uniform(55, 65)
        muscleHU = uniform(45, 55)
        fatHU = uniform(-110, -90)
    }

    func paint(on canvas: inout Canvas, offsetMM: Float) {
        let step = offsetMM / 10, pixel = canvas.pixel
        func tapered(_ ellipse: Ellipse, _ organ: Int) -> Ellipse { ellipse.scaled(max(0.5, 1 + taper[organ] * step)) }
        // Patient table under the body.
        let tableTop = body.center.1 + body.b + 0.06
        canvas.paint(center: (0, tableTop + 0.02), radius: 0.92, coverage: { u, v in
            abs(u) < 0.9 && v > tableTop && v < tableTop + 0.035 ? 1 : 0
        }, value: { _, _ in 120 })
        // Subcutaneous fat, abdominal wall muscle, intra-abdominal fat, ribs in the wall.
        canvas.paint(body, hu: fatHU)
        let muscle = Ellipse(center: body.center, a: body.a - fatThickness, b: body.b - fatThickness * 0.8)
        canvas.paint(muscle, hu: muscleHU)
        let cavity = Ellipse(center: body.center, a: muscle.a - 0.04, b: muscle.b - 0.035)
        canvas.paint(cavity, hu: fatHU + 10)
        for rib in ribs {
            canvas.paint(rib, hu: 700)
            canvas.paint(rib.scaled(0.55), hu: 250)
        }
        // Bowel loops (wall and contents: gas, fluid or stool) and the stomach with an air–fluid level.
        for (index, loop) in bowel.enumerated() {
            var wall = loop.wall
            wall.center.0 += Float(index % 3 - 1) * 0.015 * step
            canvas.paint(wall, hu: 40)
            canvas.paint(wall.scaled(0.7), hu: loop.lumenHU)
        }
        let stomachNow = tapered(stomach, 5), lumen = stomachNow.scaled(0.82), airLevel = stomachAirLevel
        canvas.paint(stomachNow, hu: 45)
        canvas.paint(center: lumen.center, radius: max(lumen.a, lumen.b), coverage: { lumen.coverage($0, $1, pixel: pixel) },
                     value: { _, v in v < airLevel ? -950 : 15 })
        // Paraspinal and psoas muscles, then the vertebra (cortex, cancellous bone, canal, laminae, spinous process).
        for side: Float in [-1, 1] {
            canvas.paint(Ellipse(center: (vertebra.center.0 + side * 0.16, vertebra.center.1 + 0.17), a: 0.13, b: 0.085), hu: muscleHU)
            canvas.paint(Ellipse(center: (vertebra.center.0 + side * 0.13, vertebra.center.1 - 0.02), a: 0.05, b: 0.065), hu: muscleHU)
            canvas.paint(Ellipse(center: (vertebra.center.0 + side * 0.055, vertebra.center.1 + 0.14), a: 0.05, b: 0.018,
                                 angle: side * 0.6), hu: 650)
        }
        canvas.paint(vertebra, hu: 850)
        canvas.paint(vertebra.scaled(0.82), hu: 230)
        canvas.paint(Ellipse(center: (vertebra.center.0, vertebra.center.1 + vertebra.b + 0.045), a: 0.04, b: 0.035), hu: 10)
        canvas.paint(Ellipse(center: (vertebra.center.0, vertebra.center.1 + vertebra.b + 0.13), a: 0.02, b: 0.055), hu: 600)
        // Pancreas, aorta, vena cava, spleen, liver (clipped to the cavity), gallbladder, kidneys with sinus fat.
        canvas.paint(tapered(pancreas, 4), hu: 42)
        canvas.paint(aorta, hu: 42)
        canvas.paint(vena, hu: 38)
        canvas.paint(tapered(spleen, 1), hu: 48)
        let liverNow = tapered(liver, 0), liverHU = self.liverHU
        canvas.paint(center: liverNow.center, radius: max(liverNow.a, liverNow.b), coverage: { u, v in
            min(liverNow.coverage(u, v, pixel: pixel), cavity.coverage(u, v, pixel: pixel))
        }, value: { _, _ in liverHU })
        canvas.paint(gallbladder, hu: 12)
        // Kidneys last: behind the liver, which wraps around the front of the right one.
        for (index, kidney) in kidneys.enumerated() {
            let now = tapered(kidney, 2 + index)
            canvas.paint(now, hu: 35)
            let medial: Float = index == 0 ? 1 : -1
            canvas.paint(Ellipse(center: (now.center.0 + medial * now.a * 0.45, now.center.1), a: now.a * 0.35, b: now.b * 0.4,
                                 angle: now.angle), hu: -60)
        }
    }
}

/// The random parts of a case's lesion (drawn the same way whatever the label) and how the label shifts them.
struct LesionDraw {
    var center: (Float, Float)
    /// Standard normal draws for size, heterogeneity and irregularity; the label moves them by ±signal/2.
    var latent: (size: Float, heterogeneity: Float, irregularity: Float)
    /// Margin harmonics k = 2…7: relative amplitude and phase.
    var harmonics: [(amplitude: Float, phase: Float)]
    /// Texture waves: direction, spatial frequency (per normalized unit) and phase.
    var waves: [(cos: Float, sin: Float, frequency: Float, phase: Float)]
    var baseHU: Float

    init(using generator: inout SeededGenerator, anatomy: Anatomy) {
        func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * generator.nextUniform() }
        // Somewhere in the inner part of the liver.
        let radius = uniform(0, 0.45).squareRoot(), angle = uniform(0, 2 * .pi)
        let liver = anatomy.liver
        let p = radius * cos(angle) * liver.a * 0.8, q = radius * sin(angle) * liver.b * 0.8
        center = (liver.center.0 + cos(liver.angle) * p - sin(liver.angle) * q,
                  liver.center.1 + sin(liver.angle) * p + cos(liver.angle) * q)
        latent = (generator.nextNormal(), generator.nextNormal(), generator.nextNormal())
        harmonics = (2...7).map { k in (uniform(0.4, 1) / Float(k).squareRoot(), uniform(0, 2 * .pi)) }
        waves = (0..<6).map { _ in
            let direction = uniform(0, .pi)
            return (cos(direction), sin(direction), uniform(18, 45), uniform(0, 2 * .pi))
        }
        baseHU = uniform(15, 25)  // hypodense to the liver (≈ 60 HU), as metastases are
    }

    /// Non-responders (label 0) have larger, more heterogeneous, more irregular lesions; `signal` is the shift of
    /// each standardized trait between the classes.
    func traits(label: Int, signal: Float) -> LesionTraits {
        let shift = (label == 1 ? -0.5 : 0.5) * signal
        func logistic(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
        return LesionTraits(radiusMM: 16 * exp(0.3 * (latent.size + shift)),
                            heterogeneityHU: 3 + 14 * logistic(1.2 * (latent.heterogeneity + shift)),
                            irregularity: 0.03 + 0.25 * logistic(1.2 * (latent.irregularity + shift)))
    }

    func paint(_ traits: LesionTraits, on canvas: inout Canvas, offsetMM: Float, mask: inout ArraySlice<UInt8>) {
        // A spheroid: the cross-section shrinks away from the center slice.
        let fraction = 1 - (offsetMM / traits.radiusMM) * (offsetMM / traits.radiusMM)
        guard fraction > 0 else { return }
        let radius = traits.radiusMM / 180 * fraction.squareRoot()
        let norm = harmonics.map(\.amplitude).reduce(0, +)
        let margin = harmonics.map { ($0.amplitude / norm * traits.irregularity, $0.phase) }
        let reach = radius * (1 + traits.irregularity) + canvas.pixel
        let pixel = canvas.pixel, center = self.center, waves = self.waves, baseHU = self.baseHU
        // Heterogeneous lesions get a darker (necrotic) core, up to half the radius.
        let coreRadius = radius * 0.5 * min(traits.heterogeneityHU / 17, 1)
        let coverage = { (u: Float, v: Float) -> Float in
            let du = u - center.0, dv = v - center.1
            let theta = atan2(dv, du)
            var edge: Float = 1
            for (k, (amplitude, phase)) in margin.enumerated() { edge += amplitude * cos(Float(k + 2) * theta + phase) }
            return min(max(0.5 - ((du * du + dv * dv).squareRoot() - radius * edge) / pixel, 0), 1)
        }
        canvas.paint(center: center, radius: reach, coverage: coverage, value: { u, v in
            var texture: Float = 0
            for wave in waves { texture += cos(wave.frequency * (wave.cos * u + wave.sin * v) + wave.phase) }
            let du = u - center.0, dv = v - center.1
            let core = min(max((coreRadius - (du * du + dv * dv).squareRoot()) / (2 * pixel), 0), 1)
            return baseHU + traits.heterogeneityHU * texture / Float(waves.count / 2).squareRoot() - 25 * core
        })
        let rows = canvas.pixels(center.1 - reach, center.1 + reach), columns = canvas.pixels(center.0 - reach, center.0 + reach)
        let base = mask.startIndex
        for y in rows {
            for x in columns where coverage((Float(x) + 0.5) * pixel - 1, (Float(y) + 0.5) * pixel - 1) >= 0.5 {
                mask[base + y * canvas.size + x] = 1
            }
        }
    }
}
