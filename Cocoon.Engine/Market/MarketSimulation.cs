using System.Security.Cryptography;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Reputation;
using Cocoon.Engine.Slashing;
using Cocoon.Engine.SpotChecks;

namespace Cocoon.Engine.Market;

/// <summary>How often the spot-check rule rejects honest answers and catches dishonest ones, per check.</summary>
public sealed record RuleFigures(int HonestChecks, int HonestRejected, int OtherModelChecks, int OtherModelCaught, int TruncatedChecks, int TruncatedCaught, double OtherModelCorrelation)
{
    public double FalsePositiveRate => HonestChecks == 0 ? 0 : (double)HonestRejected / HonestChecks;

    public double OtherModelCatchRate => OtherModelChecks == 0 ? 0 : (double)OtherModelCaught / OtherModelChecks;

    public double TruncatedCatchRate => TruncatedChecks == 0 ? 0 : (double)TruncatedCaught / TruncatedChecks;
}

/// <summary>
/// A seeded, pure simulation of the market: honest workers and cheaters of the named kinds serve jobs picked at
/// random among those the gateway would still match; the gateway measures outcomes into <see cref="ReputationModel"/>,
/// replays the jobs <see cref="ReplayPlanner"/> picks on a second worker (judged by <see cref="SpotCheckRule"/>,
/// disputes settled by <see cref="TieBreak"/>), sends canaries as <see cref="CanaryPlanner"/> says (scored against the
/// network's own reference), and slashes proven faults (<see cref="SlashingPolicy"/>). A cheater is caught when it
/// falls below the reputation floor or is slashed; it is then replaced by a fresh cheater of the same kind, so one run
/// measures many cheaters. The same seed gives the same report.
/// </summary>
public static class MarketSimulation
{
    private const long InitialStake = 100_000_000_000;

    private sealed class SimWorker(string id, WorkerBehaviour behaviour)
    {
        public string Id { get; } = id;

        public WorkerBehaviour Behaviour { get; } = behaviour;

        public ReputationState State { get; set; } = ReputationState.New;

        public int Jobs { get; set; }

        public long Stake { get; set; } = InitialStake;

        public bool Slashed { get; set; }

        public bool Excluded { get; set; }

        /// <summary>Below the floor: only probation canaries until it returns or is barred.</summary>
        public bool OnProbation { get; set; }

        public int ProbationPasses { get; set; }

        public int ProbationFailures { get; set; }

        public int ProbationCanaries { get; set; }

        /// <summary>Probation canaries it answered right but slower than its class (over its life).</summary>
        public int ProbationSlow { get; set; }

        /// <summary>Went below the floor (or was slashed) at least once.</summary>
        public bool EverOnProbation { get; set; }

        /// <summary>An honest worker's bad stretch: the job at which it starts abandoning jobs, and how many (0: none).</summary>
        public int OutageAt { get; init; }

        public int OutageJobs { get; init; }

        /// <summary>The market job at which its outage ends (set when it starts; -1: not started).</summary>
        public long OutageUntil { get; set; } = -1;

        /// <summary>
        /// Whether the worker is in its outage at market job <paramref name="job"/>. The outage is a stretch of time,
        /// not of the worker's own jobs: it starts at the worker's OutageAt-th job and lasts as long as OutageJobs of
        /// its jobs take with <paramref name="serving"/> workers sharing the market; every job and canary it gets
        /// meanwhile is abandoned. (Counted in its own jobs, an outage paused while the worker was on probation, so it
        /// passed its canaries, returned, and fell again with the rest of the outage still to come.)
        /// </summary>
        public bool InOutage(long job, int serving)
        {
            if (OutageJobs == 0)
            {
                return false;
            }

            if (OutageUntil < 0 && Jobs > OutageAt)
            {
                OutageUntil = job + ((long)OutageJobs * serving);
            }

            return OutageUntil >= 0 && job < OutageUntil;
        }
    }

    public static MarketReport Run(MarketOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var random = new Random(options.Seed);
        var tokens = new TokenModel(options, random);
        var model = new ReputationModel(ReputationPolicy.Default);
        var rule = SpotCheckRule.Default;
        var slashing = new SlashingPolicy();
        var replay = new ReplayPlanner(SHA256.HashData(BitConverter.GetBytes(options.Seed)), options.ReplayFraction);
        var canaries = new CanaryPlanner { Rate = options.CanaryRate, NewWorkerRate = options.NewWorkerCanaryRate, NewWorkerChecks = options.NewWorkerChecks };
        var target = ReputationPolicy.Default.Standard;

        var workers = new List<SimWorker>();
        var serial = 0;
        for (var i = 0; i < options.HonestWorkers; i++)
        {
            workers.Add(new SimWorker($"honest-{i}", WorkerBehaviour.Honest));
        }

        for (var i = 0; i < options.UnluckyWorkers; i++)
        {
            workers.Add(new SimWorker($"unlucky-{i}", WorkerBehaviour.Honest) { OutageAt = options.OutageAtJob, OutageJobs = options.OutageJobs });
        }

        var probation = options.Probation;
        var onProbation = new List<SimWorker>();
        int probationCanaries = 0, honestReturned = 0, honestPutOnProbation = 0, honestBarred = 0, cheatersOnProbation = 0, cheatersReturned = 0, cheatersBarred = 0;
        var returnedByKind = options.Cheaters.Distinct().ToDictionary(b => b, _ => 0);
        var job = 0;
        var honestCanariesToReturn = new List<int>();

        foreach (var behaviour in options.Cheaters)
        {
            workers.Add(new SimWorker($"{behaviour}-{serial++}", behaviour));
        }

        var caught = options.Cheaters.Distinct().ToDictionary(b => b, _ => new List<(int Jobs, bool Slashed)>());
        var evaded = options.Cheaters.Distinct().ToDictionary(b => b, _ => 0);
        int honestJobs = 0, replays = 0, canaryCount = 0, noChecker = 0, tieBreaks = 0, overruled = 0;
        int honestSlashed = 0, honestBelowFloor = 0, honestSpotFailures = 0, honestCanaryFailures = 0;
        var honestMin = 1.0;
        var active = new List<SimWorker>();

        for (job = 0; job < options.TotalJobs; job++)
        {
            active.Clear();
            active.AddRange(workers.Where(w => !w.Excluded));
            var worker = active[random.Next(active.Count)];
            worker.Jobs++;
            if (worker.Behaviour == WorkerBehaviour.Honest)
            {
                honestJobs++;
            }

            var isCanary = canaries.ShouldSendCanary(random.NextDouble(), worker.State.IntegrityVerdicts);
            var outcome = worker.InOutage(job, active.Count)
                ? new JobOutcome(JobResult.Abandoned, SlaClass.Standard)
                : Serve(worker.Behaviour, options, random, target);
            worker.State = model.Apply(worker.State, outcome);

            if (outcome.Result == JobResult.Completed && (isCanary || replay.ShouldReplay($"job-{options.Seed}-{job}")))
            {
                var length = tokens.DrawLength();
                if (isCanary)
                {
                    canaryCount++;
                    var answer = tokens.Generate(worker.Behaviour, new() { Temperature = 0f }, length);
                    var passed = rule.Judge(tokens.CheckerView(answer, WorkerBehaviour.Honest)).Passed;
                    worker.State = model.Apply(worker.State, new IntegrityVerdict(IntegrityKind.Canary, passed));
                    if (!passed)
                    {
                        honestCanaryFailures += worker.Behaviour == WorkerBehaviour.Honest ? 1 : 0;
                        Slash(worker, Fault.FailedCanary, slashing);
                    }
                }
                else
                {
                    replays++;
                    var answer = tokens.Generate(worker.Behaviour, tokens.DrawSampling(), length);
                    var checker = PickChecker(active, options, random, worker);
                    if (checker is null)
                    {
                        // No peer with an established clean record yet: the network's reference scores it.
                        noChecker++;
                        var passed = rule.Judge(tokens.CheckerView(answer, WorkerBehaviour.Honest)).Passed;
                        worker.State = model.Apply(worker.State, new IntegrityVerdict(IntegrityKind.SpotCheck, passed));
                        if (!passed)
                        {
                            honestSpotFailures += worker.Behaviour == WorkerBehaviour.Honest ? 1 : 0;
                            Slash(worker, Fault.FailedReferenceReplay, slashing);
                        }
                    }
                    else
                    {
                        var first = rule.Judge(tokens.CheckerView(answer, checker.Behaviour));
                        SpotCheckVerdict? second = null;
                        if (!first.Passed)
                        {
                            tieBreaks++;
                            var third = PickChecker(active, options, random, worker, checker);
                            if (third is not null)
                            {
                                second = rule.Judge(tokens.CheckerView(answer, third.Behaviour));
                            }
                        }

                        switch (TieBreak.Resolve(first, second))
                        {
                            case TieBreakOutcome.NoDispute:
                                worker.State = model.Apply(worker.State, new IntegrityVerdict(IntegrityKind.SpotCheck, true));
                                break;
                            case TieBreakOutcome.OriginalFaulted:
                                worker.State = model.Apply(worker.State, new IntegrityVerdict(IntegrityKind.SpotCheck, false));
                                honestSpotFailures += worker.Behaviour == WorkerBehaviour.Honest ? 1 : 0;
                                Slash(worker, Fault.LostTieBreak, slashing);
                                break;
                            case TieBreakOutcome.CheckerOverruled:
                                overruled++;
                                checker.State = model.Apply(checker.State, new IntegrityVerdict(IntegrityKind.CheckerOverruled, false));
                                Judge(checker);
                                break;
                        }
                    }
                }
            }

            Judge(worker);
            if (worker.Behaviour == WorkerBehaviour.Honest && worker.Jobs >= 100 && worker.OutageJobs == 0)
            {
                honestMin = Math.Min(honestMin, model.Score(worker.State).Value);
            }

            if (options.ProbationCanaryRate > 0)
            {
                ProbationRound();
            }
        }

        // Cheaters still serving at the end count only if they lived through the whole window (uncaught in it).
        var figures = new List<CheaterFigures>();
        var all = new List<int>();
        var allCheaters = 0;
        foreach (var (behaviour, list) in caught)
        {
            var survivors = workers.Count(w => w.Behaviour == behaviour && !w.Excluded && w.Jobs >= options.CatchWindow);
            var cheaters = list.Count + evaded[behaviour] + survivors;
            var jobs = list.Select(c => c.Jobs).Order().ToArray();
            all.AddRange(jobs);
            allCheaters += cheaters;
            figures.Add(new CheaterFigures(
                behaviour,
                cheaters,
                list.Count,
                jobs.Count(j => j <= options.CatchWindow),
                evaded[behaviour] + survivors,
                list.Count(c => c.Slashed),
                list.Count(c => !c.Slashed),
                Percentile(jobs, 0.5),
                Percentile(jobs, 0.9),
                jobs.Length == 0 ? 0 : jobs[^1])
            {
                ReturnedFromProbation = returnedByKind[behaviour],
            });
        }

        return new MarketReport(
            options.Seed, options.TotalJobs, honestJobs, replays, canaryCount, noChecker, tieBreaks, overruled,
            options.HonestWorkers + options.UnluckyWorkers, honestSlashed, honestBelowFloor, honestSpotFailures, honestCanaryFailures, honestMin,
            figures, all, allCheaters)
        {
            Window = options.CatchWindow,
            ProbationCanaries = probationCanaries,
            HonestReturned = honestReturned,
            HonestPutOnProbation = honestPutOnProbation,
            HonestBarred = honestBarred,
            HonestCanariesToReturn = [.. honestCanariesToReturn.Order()],
            HonestOnProbationAtEnd = onProbation.Count(w => w.Behaviour == WorkerBehaviour.Honest),
            CheatersOnProbation = cheatersOnProbation,
            CheatersReturned = cheatersReturned,
            CheatersBarred = cheatersBarred,
        };

        // Every worker on probation may get a canary; it returns or is barred by the probation policy.
        void ProbationRound()
        {
            for (var i = onProbation.Count - 1; i >= 0; i--)
            {
                var w = onProbation[i];
                if (random.NextDouble() >= options.ProbationCanaryRate)
                {
                    continue;
                }

                probationCanaries++;
                w.ProbationCanaries++;
                var outcome = w.InOutage(job, active.Count) ? new JobOutcome(JobResult.Abandoned, SlaClass.Standard) : Serve(w.Behaviour, options, random, target);
                w.State = model.Apply(w.State, outcome);
                // Dropped, failed or slower than its class: no pass (an answer that fails the rule bars it below).
                var missed = !MetClass(outcome, target);
                var passed = false;
                if (outcome.Result == JobResult.Completed)
                {
                    var answer = tokens.Generate(w.Behaviour, new() { Temperature = 0f }, tokens.DrawLength());
                    passed = rule.Judge(tokens.CheckerView(answer, WorkerBehaviour.Honest)).Passed;
                    w.State = model.Apply(w.State, new IntegrityVerdict(IntegrityKind.Canary, passed));
                    if (!passed)
                    {
                        w.ProbationFailures++;
                        honestCanaryFailures += w.Behaviour == WorkerBehaviour.Honest ? 1 : 0;
                        honestSlashed += w.Behaviour == WorkerBehaviour.Honest && !w.Slashed ? 1 : 0;
                        Slash(w, Fault.FailedCanary, slashing);
                    }
                }

                // Only a canary completed within the class with a right answer counts towards the way back.
                w.ProbationSlow += passed && missed ? 1 : 0;
                w.ProbationPasses = passed && !missed ? w.ProbationPasses + 1 : 0;
                if (probation.Barred(w.ProbationFailures))
                {
                    Bar(i, w);
                }
                else if (probation.Returns(model.Score(w.State).Value, options.ReputationFloor, w.ProbationPasses))
                {
                    // A slash took stake, it does not bar: a worker that passes its probation may serve again.
                    onProbation.RemoveAt(i);
                    w.OnProbation = false;
                    w.Slashed = false;
                    if (w.Behaviour == WorkerBehaviour.Honest)
                    {
                        honestReturned++;
                        honestCanariesToReturn.Add(w.ProbationCanaries);
                        w.Excluded = false;
                    }
                    else
                    {
                        // Counted, then kept out: the figures of caught cheaters stay one per cheater.
                        cheatersReturned++;
                        returnedByKind[w.Behaviour]++;
                    }
                }
                else if (probation.Barred(w.ProbationFailures, w.ProbationSlow, w.ProbationCanaries))
                {
                    Bar(i, w);
                }
            }
        }

        void Bar(int index, SimWorker w)
        {
            onProbation.RemoveAt(index);
            if (w.Behaviour == WorkerBehaviour.Honest)
            {
                honestBarred++;
            }
            else
            {
                cheatersBarred++;
            }
        }

        void Judge(SimWorker w)
        {
            if (w.Excluded)
            {
                return;
            }

            var below = model.Score(w.State).Value < options.ReputationFloor;
            if (w.Behaviour == WorkerBehaviour.Honest)
            {
                if (w.Slashed || below)
                {
                    honestSlashed += w.Slashed ? 1 : 0;
                    honestBelowFloor += below ? 1 : 0;
                    honestPutOnProbation += w.EverOnProbation ? 0 : 1;
                    w.EverOnProbation = true;
                    w.Excluded = true;
                    if (options.ProbationCanaryRate > 0)
                    {
                        w.OnProbation = true;
                        w.ProbationPasses = 0;
                        onProbation.Add(w);
                    }
                }

                return;
            }

            if (w.Slashed || below)
            {
                caught[w.Behaviour].Add((w.Jobs, w.Slashed));
                if (options.ProbationCanaryRate > 0)
                {
                    // A slashed cheater is on probation too: whether it could ever come back is what is measured.
                    w.OnProbation = true;
                    cheatersOnProbation++;
                    onProbation.Add(w);
                }
            }
            else if (w.Jobs >= options.EvasionLimit)
            {
                evaded[w.Behaviour]++;
            }
            else
            {
                return;
            }

            w.Excluded = true;
            workers.Remove(w);
            workers.Add(new SimWorker($"{w.Behaviour}-{serial++}", w.Behaviour));
        }
    }

    /// <summary>
    /// Scores many answers directly: honest answers by an honest checker (false positives), another model's answers
    /// and truncated answers by an honest checker (catches per check). Half greedy, half sampled, as in traffic.
    /// </summary>
    public static RuleFigures MeasureRule(MarketOptions options, int honestChecks, int dishonestChecks)
    {
        ArgumentNullException.ThrowIfNull(options);
        var random = new Random(options.Seed);
        var tokens = new TokenModel(options, random);
        var rule = SpotCheckRule.Default;
        int Count(WorkerBehaviour behaviour, int n) => Enumerable.Range(0, n).Count(_ =>
            !rule.Judge(tokens.CheckerView(tokens.Generate(behaviour, tokens.DrawSampling(), tokens.DrawLength()), WorkerBehaviour.Honest)).Passed);
        return new RuleFigures(
            honestChecks, Count(WorkerBehaviour.Honest, honestChecks),
            dishonestChecks, Count(WorkerBehaviour.OtherModel, dishonestChecks),
            dishonestChecks, Count(WorkerBehaviour.Truncates, dishonestChecks),
            options.OtherModelCorrelation);
    }

    private static JobOutcome Serve(WorkerBehaviour behaviour, MarketOptions options, Random random, SlaTarget target)
    {
        var failure = random.NextDouble();
        if (failure < options.HonestFailureRate || (behaviour == WorkerBehaviour.DropsJobs && failure < options.HonestFailureRate + options.DropRate))
        {
            return new JobOutcome(random.NextDouble() < 0.5 ? JobResult.Failed : JobResult.Abandoned, SlaClass.Standard);
        }

        // Honest speed: comfortably inside the class (first piece around 0.6 s, about 1.75x the token rate).
        var speed = target.MinTokensPerSecond * 1.75 * Math.Exp(0.15 * Normal(random));
        var firstToken = TimeSpan.FromSeconds(target.MaxTimeToFirstToken.TotalSeconds * 0.3 * Math.Exp(0.3 * Normal(random)));
        if (behaviour == WorkerBehaviour.Slow)
        {
            speed = target.MinTokensPerSecond * options.SlowSpeedShare * Math.Exp(0.15 * Normal(random));
            firstToken *= 2;
        }

        return new JobOutcome(JobResult.Completed, SlaClass.Standard, firstToken, speed);
    }

    /// <summary>Completed within the class's targets (time to first token and tokens per second).</summary>
    private static bool MetClass(JobOutcome outcome, SlaTarget target) =>
        outcome.Result == JobResult.Completed && outcome.TimeToFirstToken <= target.MaxTimeToFirstToken && outcome.TokensPerSecond >= target.MinTokensPerSecond;

    private static SimWorker? PickChecker(List<SimWorker> active, MarketOptions options, Random random, SimWorker original, SimWorker? other = null)
    {
        // The gateway draws checkers from workers with a clean, established integrity record.
        var candidates = active.Where(w => w != original && w != other && !w.Excluded
            && w.State.SpotChecksPassed + w.State.CanariesPassed >= options.CheckerMinimumPasses
            && w.State.SpotChecksFailed + w.State.CanariesFailed == 0).ToList();
        return candidates.Count == 0 ? null : candidates[random.Next(candidates.Count)];
    }

    private static void Slash(SimWorker worker, Fault fault, SlashingPolicy policy)
    {
        var decision = policy.Decide(fault, worker.Stake);
        worker.Stake -= decision.Amount;
        worker.Slashed = true;
    }

    private static double Percentile(int[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    private static double Normal(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
