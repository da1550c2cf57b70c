namespace Cocoon.Engine.Market;

/// <summary>How the cheaters of one kind fared: jobs each served until caught (below the floor or slashed).</summary>
public sealed record CheaterFigures(
    WorkerBehaviour Behaviour,
    int Cheaters,
    int Caught,
    int CaughtWithinWindow,
    int Evaded,
    int SlashedFirst,
    int FloorFirst,
    double MedianJobsToCatch,
    double P90JobsToCatch,
    int MaxJobsToCatch)
{
    /// <summary>Caught within the window, among the cheaters that were caught or lived through the whole window.</summary>
    public double CaughtWithinWindowShare => Cheaters == 0 ? 0 : (double)CaughtWithinWindow / Cheaters;

    /// <summary>Caught cheaters of this kind that passed their probation (each is counted, then kept out).</summary>
    public int ReturnedFromProbation { get; init; }
}

/// <summary>One run's figures.</summary>
public sealed record MarketReport(
    int Seed,
    int Jobs,
    int HonestJobs,
    int Replays,
    int Canaries,
    /// <summary>Replays no peer qualified to check, scored by the network's reference instead.</summary>
    int ReplaysWithoutChecker,
    int TieBreaks,
    int CheckersOverruled,
    int HonestWorkers,
    int HonestSlashed,
    int HonestBelowFloor,
    int HonestSpotCheckFailures,
    int HonestCanaryFailures,
    double HonestMinScore,
    IReadOnlyList<CheaterFigures> Cheaters,
    IReadOnlyList<int> AllJobsToCatch,
    int AllCheaters)
{
    public double CaughtWithinWindowShare => AllCheaters == 0 ? 0 : (double)AllJobsToCatch.Count(j => j <= Window) / AllCheaters;

    public int Window { get; init; } = 200;

    /// <summary>Canaries sent to workers on probation.</summary>
    public int ProbationCanaries { get; init; }

    /// <summary>Honest workers that went on probation at least once (<see cref="HonestBelowFloor"/> counts every fall).</summary>
    public int HonestPutOnProbation { get; init; }

    /// <summary>Honest workers barred on probation (the goal is none).</summary>
    public int HonestBarred { get; init; }

    /// <summary>Honest workers that fell below the floor and came back; the probation canaries each needed.</summary>
    public int HonestReturned { get; init; }

    public IReadOnlyList<int> HonestCanariesToReturn { get; init; } = [];

    /// <summary>Honest workers still on probation when the run ended.</summary>
    public int HonestOnProbationAtEnd { get; init; }

    /// <summary>Caught cheaters put on probation, those that came back (the goal is none), and those barred (a failed canary, missed canaries, or none left).</summary>
    public int CheatersOnProbation { get; init; }

    public int CheatersReturned { get; init; }

    public int CheatersBarred { get; init; }
}
