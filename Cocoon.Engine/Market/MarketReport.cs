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
}
