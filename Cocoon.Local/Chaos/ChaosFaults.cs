using Cocoon.Local.Processes;

namespace Cocoon.Local.Chaos;

/// <summary>
/// The faults a chaos run injects into the running stack, and when they happened: workers SIGKILLed one at a time (the
/// next only once the last one is back and attested) until about <see cref="ChaosSettings.WorkerKillShare"/> of the
/// jobs were re-dispatched because of one; gateway 2 SIGKILLed once; Redis restarted once (SIGTERM, so it writes its
/// AOF; up starts it again on the same data folder).
/// </summary>
internal sealed class ChaosFaults(ChaosStack stack, ChaosSettings settings, TextWriter output)
{
    /// <summary>Attempt failures a dead worker causes: the gateway sees its registration expire, or its stream go silent.</summary>
    private static readonly string[] WorkerDeathReasons = ["worker-lost", "stalled"];

    private readonly object _gate = new();

    public int WorkerKills { get; private set; }

    public DateTime? GatewayKilledAt { get; private set; }

    public DateTime? GatewayBackAt { get; private set; }

    public DateTime? RedisStoppedAt { get; private set; }

    public DateTime? RedisBackAt { get; private set; }

    public List<string> Problems { get; } = [];

    /// <summary>Gateway 2 is down (killed, not yet serving again): a client sends to gateway 1 instead.</summary>
    public bool GatewayDown => GatewayKilledAt is not null && GatewayBackAt is null;

    /// <summary>Jobs re-dispatched because their worker died (the gateways' own warnings).</summary>
    public int JobsHitByWorkerKills() =>
        stack.FailedAttempts.Count(a => a.Value.Any(r => WorkerDeathReasons.Contains(r)));

    /// <summary>
    /// A request to gateway 2 that lost its connection while gateway 2 was dead (from its kill until it served again):
    /// the client sees a refused or dropped connection, never a silent loss, and retries on the other gateway.
    /// </summary>
    public bool CutByGatewayKill(StreamOutcome o) =>
        o.Gateway == 1 && o.Transport is not null && GatewayKilledAt is { } killed && o.Ended >= killed &&
        (GatewayBackAt is not { } back || o.Started <= back + TimeSpan.FromSeconds(2));

    /// <summary>Kills workers while the run lags behind its share of hit jobs; returns when <paramref name="cancellationToken"/> ends the run.</summary>
    public async Task KillWorkersAsync(Func<double> progress, CancellationToken cancellationToken)
    {
        var target = Math.Ceiling(settings.Jobs * ChaosSettings.WorkerKillShare);
        var random = new Random();
        var lastKill = DateTime.MinValue;
        int? lastPid = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(500, cancellationToken);
                var hits = JobsHitByWorkerKills();
                if (hits >= target || hits >= target * progress() + 1 || DateTime.UtcNow - lastKill < TimeSpan.FromSeconds(8) || progress() > 0.95)
                {
                    continue;
                }

                // The last one killed is back (a new process, attested), so every kill meets a full set of workers.
                var workers = stack.Children("Cocoon.Worker");
                if (workers.Count < ChaosSettings.Workers || workers.Any(w => w.Pid == lastPid) || await stack.WorkersSeenAsync(0, cancellationToken) is not >= ChaosSettings.Workers)
                {
                    continue;
                }

                var victim = workers[random.Next(workers.Count)].Pid;
                if (ChaosStack.Signal(victim, ChaosStack.Sigkill))
                {
                    lastPid = victim;
                    lastKill = DateTime.UtcNow;
                    WorkerKills++;
                    Say($"SIGKILL worker pid {victim} (kill {WorkerKills}; {hits} of {target} jobs hit so far)");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
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
