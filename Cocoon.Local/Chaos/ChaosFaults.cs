using Cocoon.Local.Processes;

namespace Cocoon.Local.Chaos;

/// <summary>
/// The faults a chaos run injects into the running stack, and when they happened: workers SIGKILLed one at a time (the
/// next only once the last one is back and attested) while fewer than <see cref="ChaosSettings.WorkerKillShare"/> of
/// the jobs started so far were re-dispatched because of one; gateway 2 SIGKILLed once; Redis restarted once (SIGTERM, so it writes its
/// AOF; up starts it again on the same data folder).
/// </summary>
internal sealed class ChaosFaults(ChaosStack stack, ChaosSettings settings, TextWriter output)
{
    /// <summary>Attempt failures a dead worker causes: the gateway sees its registration expire, or its stream go silent.</summary>
    private static readonly string[] WorkerDeathReasons = ["worker-lost", "stalled"];

    private readonly object _gate = new();
    private readonly Random _random = new();
    private readonly List<DateTime> _killTimes = [];
    private DateTime _lastKill = DateTime.MinValue;
    private int? _lastPid;

    public int WorkerKills { get; private set; }

    public DateTime? GatewayKilledAt { get; private set; }

    public DateTime? GatewayBackAt { get; private set; }

    public DateTime? RedisStoppedAt { get; private set; }

    public DateTime? RedisBackAt { get; private set; }

    public List<string> Problems { get; } = [];

    /// <summary>Gateway 2 is down (killed, not yet serving again): a client sends to gateway 1 instead.</summary>
    public bool GatewayDown => GatewayKilledAt is not null && GatewayBackAt is null;

    /// <summary>
    /// Jobs re-dispatched because a killed worker died under them: a worker-death failure the gateways reported within
    /// <see cref="Attribution"/> of a kill. The same failures right after the Redis restart are that fault's, not a kill's.
    /// </summary>
    public int JobsHitByWorkerKills()
    {
        List<DateTime> kills;
        lock (_gate)
        {
            kills = [.. _killTimes];
        }

        return stack.FailedAttempts.Count(a => a.Value.Any(r => WorkerDeathReasons.Contains(r.Reason) && !DuringRedisRestart(r.At) && kills.Any(k => r.At >= k && r.At <= k + Attribution)));
    }

    /// <summary>Jobs that had an attempt fail while Redis restarted or just after (the gateways' reasons).</summary>
    public int JobsRedispatchedByRedisRestart() => stack.FailedAttempts.Count(a => a.Value.Any(r => DuringRedisRestart(r.At)));

    /// <summary>How long after a fault a failed attempt is put down to it: the registration TTL (3 s), a refresh and slack for a loaded machine.</summary>
    private static readonly TimeSpan Attribution = TimeSpan.FromSeconds(10);

    private bool DuringRedisRestart(DateTime at) => RedisStoppedAt is { } stopped && at >= stopped && at <= (RedisBackAt ?? DateTime.MaxValue - Attribution) + Attribution;

    /// <summary>
    /// A request to gateway 2 that lost its connection while gateway 2 was dead (from its kill until it served again):
    /// the client sees a refused or dropped connection, never a silent loss, and retries on the other gateway.
    /// </summary>
    public bool CutByGatewayKill(StreamOutcome o) =>
        o.Gateway == 1 && o.Transport is not null && GatewayKilledAt is { } killed && o.Ended >= killed &&
        (GatewayBackAt is not { } back || o.Started <= back + TimeSpan.FromSeconds(2));

    /// <summary>Fewer jobs were hit by a worker kill than the run's share of the jobs started so far.</summary>
    public bool BehindOnWorkerKills(int started) =>
        started < settings.Jobs * 0.95 && JobsHitByWorkerKills() < Math.Ceiling(settings.Jobs * ChaosSettings.WorkerKillShare) * started / settings.Jobs;

    /// <summary>
    /// The last worker killed is back: a new process, attested at gateway 1, and long enough ago that its death was
    /// seen (the registration's TTL is 3 s), so every kill meets a full set of workers.
    /// </summary>
    public async Task<bool> ReadyToKillWorkerAsync(CancellationToken cancellationToken)
    {
        if (DateTime.UtcNow - _lastKill < TimeSpan.FromSeconds(5))
        {
            return false;
        }

        var workers = stack.Children("Cocoon.Worker");
        return workers.Count >= ChaosSettings.Workers && workers.All(w => w.Pid != _lastPid) &&
            await stack.WorkersSeenAsync(0, cancellationToken) is >= ChaosSettings.Workers;
    }

    /// <summary>Waits (up to 3 minutes) until <see cref="ReadyToKillWorkerAsync"/>.</summary>
    public async Task WaitReadyToKillWorkerAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (!await ReadyToKillWorkerAsync(cancellationToken))
        {
            if (DateTime.UtcNow > deadline)
            {
                Problem("a killed worker was not back and attested within 3 minutes");
                return;
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>
    /// SIGKILLs the busiest of up's workers: the one that used the most CPU over the last 200 ms (an idle worker
    /// waits on Redis and uses none), so the kill meets jobs rather than an empty worker.
    /// </summary>
    public async Task KillWorkerAsync(CancellationToken cancellationToken)
    {
        var workers = stack.Children("Cocoon.Worker").Select(w => w.Pid).ToList();
        if (workers.Count == 0)
        {
            return;
        }

        var before = workers.ToDictionary(p => p, ChaosStack.CpuTicks);
        await Task.Delay(200, cancellationToken);
        var busiest = workers.Max(p => ChaosStack.CpuTicks(p) - before[p]);
        var candidates = workers.Where(p => ChaosStack.CpuTicks(p) - before[p] >= busiest).ToList();
        var victim = candidates[_random.Next(candidates.Count)];
        if (ChaosStack.Signal(victim, ChaosStack.Sigkill))
        {
            _lastPid = victim;
            _lastKill = DateTime.UtcNow;
            lock (_gate)
            {
                _killTimes.Add(_lastKill);
            }

            WorkerKills++;
            Say($"SIGKILL worker pid {victim} (kill {WorkerKills}; {JobsHitByWorkerKills()} jobs hit so far)");
        }
    }

    /// <summary>SIGKILLs gateway 2 and waits until up has it serving again.</summary>
    public async Task KillGatewayAsync(CancellationToken cancellationToken)
    {
        if (stack.GatewayPid(1) is not { } pid)
        {
            Problem("gateway 2's process was not found; it was not killed");
            return;
        }

        lock (_gate)
        {
            GatewayKilledAt = DateTime.UtcNow;
        }

        ChaosStack.Signal(pid, ChaosStack.Sigkill);
        Say($"SIGKILL gateway 2 (pid {pid}, {stack.GatewayUrl(1)})");
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(250, cancellationToken);
            if (stack.GatewayPid(1) is { } again && again != pid && await stack.WorkersSeenAsync(1, cancellationToken) is >= 1)
            {
                GatewayBackAt = DateTime.UtcNow;
                Say($"gateway 2 serves again after {(GatewayBackAt - GatewayKilledAt)!.Value.TotalSeconds:0.0} s");
                return;
            }
        }

        Problem("gateway 2 did not serve again within 5 minutes of its kill");
    }

    /// <summary>Stops Redis (SIGTERM: it writes its AOF and exits) and waits until up has started it again and it answers.</summary>
    public async Task RestartRedisAsync(CancellationToken cancellationToken)
    {
        if (stack.Children("redis-server") is not [var (pid, _)])
        {
            Problem("up's redis-server was not found; Redis was not restarted");
            return;
        }

        RedisStoppedAt = DateTime.UtcNow;
        ChaosStack.Signal(pid, ChaosStack.Sigterm);
        Say($"SIGTERM redis-server (pid {pid}); up starts it again on the same AOF");
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, cancellationToken);
            if (stack.Children("redis-server") is [var (again, _)] && again != pid && await LocalRedis.AnswersAsync("127.0.0.1", stack.RedisPort, cancellationToken))
            {
                RedisBackAt = DateTime.UtcNow;
                Say($"Redis answers again after {(RedisBackAt - RedisStoppedAt)!.Value.TotalSeconds:0.0} s");
                return;
            }
        }

        Problem("Redis did not answer again within 2 minutes of its restart");
    }

    private void Problem(string text)
    {
        lock (_gate)
        {
            Problems.Add(text);
        }

        Say("problem: " + text);
    }

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine($"cocoon chaos: {DateTime.UtcNow:HH:mm:ss} {line}");
        }
    }
}
