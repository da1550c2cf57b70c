using System.Diagnostics;
using System.Globalization;
using Cocoon.Engine.Market;

namespace Cocoon.Bench.Market;

/// <summary>
/// `./cocoon bench market`: the honest-market simulation's figures (Cocoon.Engine/Market). First the spot-check rule
/// alone: how often it rejects an honest answer scored by a second honest worker, and how often one check catches
/// another model or a truncated answer. Then the market at the defaults (2% replays, canaries, reputation floor) over
/// several seeds: jobs until each cheater is caught, the share caught within 200 of its jobs, honest workers slashed
/// or pushed below the floor, and probation (honest workers that fell below the floor and came back, cheaters that
/// did not). Then the same with parts switched off, to show what each part contributes.
/// COCOON_BENCH_MARKET_SEEDS (default 3) and COCOON_BENCH_MARKET_JOBS (default 100000) override the run;
/// COCOON_BENCH_MARKET_ALL=1 adds the finer comparisons. The runs are seeded and run side by side on all cores.
/// </summary>
public static class MarketBenchmark
{
    private static readonly double[] Correlations = [0.8, 0.9, 0.95, 0.98];

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var seeds = Setting("COCOON_BENCH_MARKET_SEEDS", 3);
        var jobs = Setting("COCOON_BENCH_MARKET_JOBS", 100_000);
        var all = Environment.GetEnvironmentVariable("COCOON_BENCH_MARKET_ALL") == "1";
        var defaults = new MarketOptions { TotalJobs = jobs };
        var total = Stopwatch.StartNew();

        // Every run is seeded and independent: they run side by side on all cores and print in order.
        var clock = Stopwatch.StartNew();
        var rules = Correlations
            .AsParallel().AsOrdered()
            .Select(rho => MarketSimulation.MeasureRule(defaults with { OtherModelCorrelation = rho, Seed = 7 }, rho == 0.9 ? 3000 : 500, 300))
            .ToArray();
        Console.WriteLine($"spot-check rule (tolerance 0.15 logit, 1 + n/100 misses, likelihood z >= -6), worker logit noise sd {defaults.LogitNoise}; {clock.Elapsed.TotalSeconds:F1}s");
        foreach (var r in rules)
        {
            // With a share c of checks catching, a cheater checked at rate f per job escapes 200 jobs with (1 - f c)^200.
            var escape = Math.Pow(1 - defaults.ReplayFraction * r.OtherModelCatchRate, defaults.CatchWindow);
            Console.WriteLine(Invariant($"  other model rho {r.OtherModelCorrelation:0.00}: caught by one check {r.OtherModelCatchRate:P1} of {r.OtherModelChecks}; truncated caught {r.TruncatedCatchRate:P1} of {r.TruncatedChecks}; honest rejected {r.HonestRejected} of {r.HonestChecks}; 2% replays alone catch it within 200 jobs with p = {1 - escape:P1}"));
        }

        // The defaults over all seeds; each comparison over one seed. COCOON_BENCH_MARKET_ALL=1 adds the finer
        // comparisons (each as long as a default run).
        var configurations = new List<(string Name, MarketOptions Options)>
        {
            ("defaults: 2% replays + canaries 0.5% (5% for a new worker's first 5 verdicts) + floor 0.85 + probation", defaults),
            ("2% replays alone (no canaries, no floor)", defaults with { CanaryRate = 0, NewWorkerCanaryRate = 0, ReputationFloor = 0 }),
            ("2% replays + floor 0.85, no canaries", defaults with { CanaryRate = 0, NewWorkerCanaryRate = 0 }),
            ("defaults + 4 unlucky honest workers (an outage as long as 8 of their jobs, from their 30th), probation 1% canaries", defaults with { UnluckyWorkers = 4 }),
            ("the same without probation (below the floor is out for ever)", defaults with { UnluckyWorkers = 4, ProbationCanaryRate = 0 }),
        };
        if (all)
        {
            configurations.AddRange(
            [
                ("3% replays + floor 0.85, no canaries", defaults with { ReplayFraction = 0.03, CanaryRate = 0, NewWorkerCanaryRate = 0 }),
                ("2% replays + canaries 0.5% (no new-worker boost) + floor 0.85", defaults with { NewWorkerCanaryRate = 0.005 }),
                ("defaults with floor 0.8", defaults with { ReputationFloor = 0.8 }),
                ("defaults with a closer other model (rho 0.95)", defaults with { OtherModelCorrelation = 0.95 }),
            ]);
        }

        clock.Restart();
        var runs = configurations
            .SelectMany((c, index) => Enumerable.Range(1, index == 0 ? seeds : 1).Select(seed => (Index: index, Seed: seed)))
            .ToArray();
        var done = runs
            .AsParallel().AsOrdered()
            .Select(r =>
            {
                var started = Stopwatch.StartNew();
                var report = MarketSimulation.Run(configurations[r.Index].Options.WithSeed(r.Seed));
                return (r.Index, Report: report, Seconds: started.Elapsed.TotalSeconds);
            })
            .ToArray();
        Console.WriteLine(Invariant($"{runs.Length} market runs of {jobs:N0} jobs side by side: {clock.Elapsed.TotalSeconds:F1}s"));

        var results = new List<object>();
        for (var index = 0; index < configurations.Count; index++)
        {
            var (name, options) = configurations[index];
            var reports = done.Where(d => d.Index == index).Select(d => d.Report).ToArray();
            var seconds = done.Where(d => d.Index == index).Sum(d => d.Seconds);
            var cheaters = reports.Sum(r => r.AllCheaters);
            var within = reports.Sum(r => r.AllJobsToCatch.Count(j => j <= options.CatchWindow));
            var share = cheaters == 0 ? 0 : (double)within / cheaters;
            // The goal is read per kind: a fast-caught kind (slow workers) must not hide a slow-caught one.
            var worst = reports[0].Cheaters.Select(c => c.Behaviour).Min(b =>
            {
                var f = reports.SelectMany(r => r.Cheaters).Where(x => x.Behaviour == b).ToArray();
                var n = f.Sum(x => x.Cheaters);
                return n == 0 ? 0 : (double)f.Sum(x => x.CaughtWithinWindow) / n;
            });
            Console.WriteLine(Invariant($"{name}: {reports.Length} seed(s) x {jobs:N0} jobs, {seconds:F1}s of one core"));
            Console.WriteLine(Invariant($"  P(a cheater is caught within {options.CatchWindow} of its jobs) at {options.ReplayFraction:P0} replays: {within} of {cheaters} = {share:P2}; worst kind {worst:P2} (goal >= 99% for every kind: {(worst >= 0.99 ? "met" : "not met")})"));
            foreach (var behaviour in reports[0].Cheaters.Select(c => c.Behaviour))
            {
                var c = reports.SelectMany(r => r.Cheaters).Where(f => f.Behaviour == behaviour).ToArray();
                var n = c.Sum(f => f.Cheaters);
                var w = c.Sum(f => f.CaughtWithinWindow);
                var jobsToCatch = reports.SelectMany(r => r.Cheaters.Where(f => f.Behaviour == behaviour)).ToArray();
                Console.WriteLine(Invariant($"    {behaviour,-10} {n,5} cheaters, within window {(n == 0 ? 0 : (double)w / n),7:P2}, slashed first {c.Sum(f => f.SlashedFirst),5}, below floor first {c.Sum(f => f.FloorFirst),5}, evaded {c.Sum(f => f.Evaded),3}; jobs until below the floor or slashed: median {jobsToCatch.Average(f => f.MedianJobsToCatch):F0}, p90 {jobsToCatch.Average(f => f.P90JobsToCatch):F0}, max {jobsToCatch.Max(f => f.MaxJobsToCatch)}; back from probation {c.Sum(f => f.ReturnedFromProbation)}"));
            }

            var honestJobs = reports.Sum(r => r.HonestJobs);
            var honestWorkers = reports.Sum(r => r.HonestWorkers);
            Console.WriteLine(Invariant($"  honest: {reports.Sum(r => r.HonestSlashed)} slashed (goal 0: {(reports.Sum(r => r.HonestSlashed) == 0 ? "met" : "not met")}), {reports.Sum(r => r.HonestPutOnProbation)} of {honestWorkers} put on probation ({reports.Sum(r => r.HonestBelowFloor)} falls below the floor), {reports.Sum(r => r.HonestBarred)} barred, over {honestJobs:N0} honest jobs of {reports.Sum(r => r.Jobs):N0}; failed spot checks {reports.Sum(r => r.HonestSpotCheckFailures)}, failed canaries {reports.Sum(r => r.HonestCanaryFailures)}, lowest score after 100 jobs {reports.Min(r => r.HonestMinScore):F3}"));
            var toReturn = reports.SelectMany(r => r.HonestCanariesToReturn).Order().ToArray();
            Console.WriteLine(Invariant($"  probation: {reports.Sum(r => r.ProbationCanaries):N0} canaries; honest returned {reports.Sum(r => r.HonestReturned)} (probation canaries each: median {(toReturn.Length == 0 ? 0 : toReturn[toReturn.Length / 2])}, max {(toReturn.Length == 0 ? 0 : toReturn[^1])}), still on probation at the end {reports.Sum(r => r.HonestOnProbationAtEnd)}; cheaters on probation {reports.Sum(r => r.CheatersOnProbation)}, returned {reports.Sum(r => r.CheatersReturned)}, barred {reports.Sum(r => r.CheatersBarred)}"));
            Console.WriteLine(Invariant($"  replays {reports.Sum(r => r.Replays):N0} ({reports.Sum(r => r.ReplaysWithoutChecker)} without an eligible checker), canaries {reports.Sum(r => r.Canaries):N0}, tie-breaks {reports.Sum(r => r.TieBreaks)}, checkers overruled {reports.Sum(r => r.CheckersOverruled)}"));
            results.Add(new { name, options, seeds = reports.Length, cheaters, caughtWithinWindow = within, share, worstKindShare = worst, reports });
        }

        Console.WriteLine(Invariant($"market bench: {total.Elapsed.TotalSeconds:F1}s on {Environment.ProcessorCount} cores"));
        var path = await bench.WriteJsonAsync("market", new { benchmark = "market", rules, results });
        Console.WriteLine($"  {path}");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
