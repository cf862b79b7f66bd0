import ForesightSim
import ForesightSite
import Foundation
import Testing

@Suite struct RadarPhysicsTests {
    /// Range, Doppler and angle spectra of a single scatterer, from the synthesized cube.
    static func spectra(site: Site, scatterer: RadarScatterer, noise: Double = 0.01)
        -> (rangeBin: Int, dopplerBin: Int, angleBin: Int, expectedRange: Double, u: Double) {
        let radar = site.radar
        let model = RadarModel(radar: radar, noiseSigma: noise, amplitudeScale: 10, fovDeg: 60)
        var cube: [Float] = []
        var random = SimRandom(seed: 1)
        model.synthesize(scatterers: [scatterer], into: &cube, random: &random)
        #expect(cube.count == 2 * radar.rx * radar.samples * radar.chirps)
        func sample(_ r: Int, _ n: Int, _ c: Int) -> (Double, Double) {
            let i = 2 * ((r * radar.samples + n) * radar.chirps + c)
            return (Double(cube[i]), Double(cube[i + 1]))
        }
        // non-coherent sum of the range spectra of every rx at chirp 0
        var rangeSpectrum = [Double](repeating: 0, count: radar.samples)
        for r in 0..<radar.rx {
            let profile = (0..<radar.samples).map { sample(r, $0, 0) }
            for (k, m) in dft(profile.map(\.0), profile.map(\.1), size: radar.samples).enumerated() { rangeSpectrum[k] += m }
        }
        let rangeBin = argmax(rangeSpectrum)
        // range-FFT value at the peak bin for every chirp / rx, then Doppler and angle FFTs
        func rangeValue(_ r: Int, _ c: Int) -> (Double, Double) {
            var sr = 0.0, si = 0.0
            for n in 0..<radar.samples {
                let (re, im) = sample(r, n, c)
                let angle = -2 * Double.pi * Double(rangeBin * n) / Double(radar.samples)
                sr += re * cos(angle) - im * sin(angle)
                si += re * sin(angle) + im * cos(angle)
            }
            return (sr, si)
        }
        let slow = (0..<radar.chirps).map { rangeValue(0, $0) }
        let dopplerBin = argmax(dft(slow.map(\.0), slow.map(\.1), size: radar.chirps))
        let across = (0..<radar.rx).map { rangeValue($0, 0) }
        let angleBin = argmax(dft(across.map(\.0), across.map(\.1), size: 64))
        let local = radar.pose.toBody(scatterer.position)
        let range = (local * local).sum().squareRoot()
        return (rangeBin, dopplerBin, angleBin, range, local.y / range)
    }

    @Test(arguments: [(0.0, 12.0), (-6.0, 20.0), (9.0, 35.0), (-20.0, 60.0)])
    func rangeAndAnglePeaksAtTheTarget(east: Double, north: Double) throws {
        var site = try Fixtures.site()
        site.radar.chirps = 8
        let s = Self.spectra(site: site, scatterer: RadarScatterer(position: SIMD3(east, north, 1), velocity: .zero, rcs: 10))
        let expectedBin = s.expectedRange / site.radar.rangeResolution
        #expect(abs(Double(s.rangeBin) - expectedBin) <= 1, "range bin \(s.rangeBin), expected \(expectedBin)")
        // rx phase −π·r·u: the 64-point FFT over rx peaks at k/64 = −u/2 (mod 1)
        var expectedAngle = (-s.u / 2 * 64).rounded()
        if expectedAngle < 0 { expectedAngle += 64 }
        let distance = min(abs(Double(s.angleBin) - expectedAngle), 64 - abs(Double(s.angleBin) - expectedAngle))
        #expect(distance <= 1, "angle bin \(s.angleBin), expected \(expectedAngle) for u = \(s.u)")
    }

    @Test func dopplerSignFollowsApproachAndRecession() throws {
        var site = try Fixtures.site()
        site.radar.samples = 64
        site.radar.chirps = 64
        let position = SIMD3(0.0, 20.0, 1.0)     // straight ahead (radar faces north)
        let receding = Self.spectra(site: site, scatterer: RadarScatterer(position: position, velocity: SIMD3(0, 5, 0), rcs: 10))
        let approaching = Self.spectra(site: site, scatterer: RadarScatterer(position: position, velocity: SIMD3(0, -5, 0), rcs: 10))
        let chirps = site.radar.chirps
        // receding → positive Doppler frequency (bins 1..<chirps/2), approaching → negative
        #expect(receding.dopplerBin > 0 && receding.dopplerBin < chirps / 2)
        #expect(approaching.dopplerBin > chirps / 2)
        // and the magnitude matches v / velocity resolution
        let expected = 5 / site.radar.velocityResolution
        #expect(abs(Double(receding.dopplerBin) - expected) <= 1)
        #expect(abs(Double(chirps - approaching.dopplerBin) - expected) <= 1)
    }
}

@Suite struct LidarPhysicsTests {
    @Test func vehiclePointsLieOnItsBox() throws {
        let site = try Fixtures.site()
        let scenario = try Fixtures.scenario()
        let model = LidarModel(lidar: site.lidar, scene: StaticScene(scenario: scenario), rangeNoise: 0.02)
        let truck = Fixtures.vehicle(id: 1, east: 6, north: 12, size: SIMD3(10, 2.5, 3.8), heading: 0.2)
        var random = SimRandom(seed: 3)
        let points = model.scan(vehicles: [truck], random: &random)
        #expect(points.count % 4 == 0)
        #expect(points.count / 4 > 10_000 && points.count / 4 < 32_768)
        var onTruck = 0, onGround = 0
        for i in stride(from: 0, to: points.count, by: 4) {
            let site = site.lidar.pose.toSite(SIMD3(Double(points[i]), Double(points[i + 1]), Double(points[i + 2])))
            let distance = truck.box.distanceToSurface(site)
            if distance < 0.5 && site.z > 0.15 {
                onTruck += 1
                // 5σ of the range noise
                #expect(distance < 0.1, "point \(site) is \(distance) m off the truck's surface")
            } else if abs(site.z) < 0.1 {
                onGround += 1
            }
            #expect(points[i + 3] >= 0 && points[i + 3] <= 1)
        }
        #expect(onTruck > 200)
        #expect(onGround > 5_000)
    }
}

@Suite struct ChannelPhysicsTests {
    @Test func bestBeamPointsAtTheUEUnderLineOfSight() throws {
        let site = try Fixtures.site()
        let scenario = try Fixtures.scenario()
        let channel = try ChannelModel(site: site, scenario: scenario)
        let sines = site.mmwave.steeringSines()
        let step = 2.0 / Double(site.mmwave.beams)
        for east in stride(from: -40.0, through: 40.0, by: 5.0) {
            for north in [5.0, 8.5, 12.0, 15.5] {
                let ue = SIMD3(east, north, scenario.ue.antennaHeight)
                let paths = channel.paths(ue: ue, vehicles: [])
                // line of sight, ground, north facade and their double bounces (the south facade is behind the array)
                #expect(paths.first?.kind == .lineOfSight)
                #expect(paths.contains { $0.kind == .reflection([.ground]) } && paths.contains { $0.kind == .reflection([.facade(1)]) })
                #expect(!paths.contains { $0.kind == .reflection([.facade(0)]) })
                let best = argmax(channel.beamPowers(paths: paths))
                let local = site.mmwave.pose.directionToBody(ue - site.mmwave.pose.position)
                let u = local.y / (local * local).sum().squareRoot()
                // beyond ~60° off boresight the element pattern (4·cos ψ) favours the glass facade's
                // reflection, which arrives closer to boresight: there the best beam may follow it
                guard abs(u) < sin(.pi / 3) else { continue }
                #expect(abs(sines[best] - u) <= step, "UE at (\(east), \(north)): beam \(best) sin \(sines[best]) vs \(u)")
            }
        }
    }

    @Test func blockageLowersThePowerByTheConfiguredLoss() throws {
        let site = try Fixtures.site()
        var scenario = try Fixtures.scenario()
        scenario.link.reflections = false
        scenario.link.groundReflection = false
        scenario.link.vehicleReflections = false
        let channel = try ChannelModel(site: site, scenario: scenario)
        let ue = SIMD3(10.0, 15.5, scenario.ue.antennaHeight)
        let bus = Fixtures.vehicle(id: 2, east: 5.5, north: 8.5, size: SIMD3(12, 2.55, 3.3), loss: 23.5)
        let clear = channel.beamPowers(paths: channel.paths(ue: ue, vehicles: []))
        let paths = channel.paths(ue: ue, vehicles: [bus])
        #expect(paths[0].blockageDb == 23.5 && paths[0].blocked)
        let blocked = channel.beamPowers(paths: paths)
        for (a, b) in zip(clear, blocked) {
            #expect(abs(10 * log10(a / b) - 23.5) < 1e-9)
        }
        // a car is too low to cross the path from a 3 m mast to a 1.65 m antenna here
        let car = Fixtures.vehicle(id: 3, east: 5.5, north: 8.5, size: SIMD3(4.5, 1.8, 1.5))
        #expect(channel.paths(ue: ue, vehicles: [car])[0].blockageDb == 0)
    }

    @Test func reflectionsAreWeakerThanLineOfSightAndFollowTheImage() throws {
        let site = try Fixtures.site()
        let scenario = try Fixtures.scenario()
        let channel = try ChannelModel(site: site, scenario: scenario)
        let ue = SIMD3(0.0, 12.0, scenario.ue.antennaHeight)
        let paths = channel.paths(ue: ue, vehicles: [])
        let power = paths.map { $0.re * $0.re + $0.im * $0.im }
        let facade = try #require(paths.firstIndex { $0.kind == .reflection([.facade(1)]) })
        for i in 1..<paths.count { #expect(power[i] < power[0], "\(paths[i].kind.name)") }
        // north facade at 23 m: image at 2·23 − 12 = 34 m
        let bs = site.mmwave.pose.position
        let image = SIMD3(0.0, 34.0, scenario.ue.antennaHeight) - bs
        #expect(abs(paths[facade].length - (image * image).sum().squareRoot()) < 1e-9)
        // glass at near-normal incidence: |Γ⊥| = |(1 − √η)/(1 + √η)| on top of the free-space loss
        let ratio = (power[facade] / power[0]).squareRoot() * paths[facade].length / paths[0].length
        #expect(ratio > 0.3 && ratio < 0.5, "facade/LoS amplitude ratio after spreading \(ratio)")
    }
}

@Suite struct GnssStatisticsTests {
    @Test func errorStatisticsMatchTheConfiguration() throws {
        var scenario = try Fixtures.scenario()
        scenario.gnssBiasSigma = 1.2
        scenario.gnssBiasTau = 4
        scenario.gnssWhiteSigma = 0.8
        scenario.gnssDropoutsPerMinute = 2
        scenario.gnssDropoutDuration = 1...3
        var random = SimRandom(seed: 11)
        var model = GnssModel(reference: GeodeticReference(latitude: 33.42, longitude: -111.93), scenario: scenario, random: &random)
        let dt = 0.1, steps = 40_000
        var errors: [Double] = [], diffs: [Double] = [], missing = 0
        var previous: Double?
        for k in 0..<steps {
            guard let fix = model.fix(east: 10, north: 5, time: Double(k) * dt, random: &random) else {
                missing += 1; previous = nil; continue
            }
            // the published position is the truth plus the reported error
            let local = GeodeticReference(latitude: 33.42, longitude: -111.93).toLocal(lat: fix.lat, lon: fix.lon)
            #expect(abs(local.east - 10 - fix.errorEast) < 1e-6)
            errors.append(fix.errorEast)
            if let previous { diffs.append(fix.errorEast - previous) }
            previous = fix.errorEast
        }
        func rms(_ v: [Double]) -> Double { (v.map { $0 * $0 }.reduce(0, +) / Double(v.count)).squareRoot() }
        let total = (1.2 * 1.2 + 0.8 * 0.8).squareRoot()
        #expect(abs(rms(errors) - total) / total < 0.12, "rms \(rms(errors)) vs \(total)")
        let decay = exp(-dt / 4)
        let expectedDiff = (2 * 0.8 * 0.8 + 2 * 1.2 * 1.2 * (1 - decay)).squareRoot()
        #expect(abs(rms(diffs) - expectedDiff) / expectedDiff < 0.05, "diff rms \(rms(diffs)) vs \(expectedDiff)")
        // dropouts: 2 per minute of ~2 s → ~6 % of the time missing
        let fraction = Double(missing) / Double(steps)
        #expect(fraction > 0.03 && fraction < 0.10, "missing fraction \(fraction)")
    }
}

@Suite struct NoiseTests {
    @Test func radarThermalNoiseHasTheConfiguredPower() throws {
        var site = try Fixtures.site()
        site.radar.chirps = 32
        let model = RadarModel(radar: site.radar, noiseSigma: 0.7, amplitudeScale: 10, fovDeg: 60)
        var cube: [Float] = []
        var random = SimRandom(seed: 8)
        model.synthesize(scatterers: [], into: &cube, random: &random)
        let n = Double(cube.count)
        let mean = cube.reduce(0.0) { $0 + Double($1) } / n
        let variance = cube.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        #expect(abs(mean) < 0.01)
        #expect(abs(variance.squareRoot() - 0.7) < 0.01)
        // fourth moment close to a Gaussian's 3σ⁴ (Irwin–Hall of 4 gives 2.7σ⁴)
        let kurtosis = cube.reduce(0.0) { $0 + pow(Double($1) - mean, 4) } / n / (variance * variance)
        #expect(kurtosis > 2.6 && kurtosis < 3.1)
    }

    @Test func gaussianDeviatesHaveUnitVariance() {
        var random = SimRandom(seed: 12)
        let values = (0..<100_000).map { _ in random.gaussian() }
        let mean = values.reduce(0, +) / 1e5
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 1e5
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.02)
        let tail = values.filter { abs($0) > 3 }.count
        #expect(tail > 200 && tail < 350)          // 0.27 % beyond 3σ
    }
}
