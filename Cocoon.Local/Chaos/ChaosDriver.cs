using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Cocoon.Local.Chaos;

/// <summary>One job of the run: its prompt and every request its client sent for it (a retry after a gateway kill is a second).</summary>
internal sealed record ChaosJob(int Index, int Prompt, IReadOnlyList<StreamOutcome> Requests)
{
    public StreamOutcome Final => Requests[^1];
}

/// <summary>
/// The client side of a chaos run: first each prompt once with no fault (its greedy reference answer), then the jobs,
/// <see cref="ChaosSettings.Concurrency"/> at a time, alternating between the two gateways, while
/// <see cref="ChaosFaults"/> kills workers, gateway 2 (at 30% of the jobs) and restarts Redis (at 60%). A client whose
/// gateway dropped or refused its connection retries once on the other gateway, as a client behind a load balancer
/// would; nothing else is retried, so every other failure shows as it happened.
/// </summary>
internal sealed class ChaosDriver(ChaosStack stack, ChaosSettings settings, ChaosFaults faults, TextWriter output) : IDisposable
{
    /// <summary>Story openings (the small test model writes stories); each job uses one, so answers repeat by prompt.</summary>
    private static readonly string[] Openings =
    [
        "a little cat", "a big dog", "a small bird", "a happy frog", "a tiny mouse", "a brave girl", "a kind boy", "an old man",
        "a red ball", "a green tree", "a blue boat", "a funny clown", "a shy bear", "a fast car", "a lost duck", "a sleepy owl",
    ];

    private readonly HttpClient _http = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private string _model = string.Empty;
    private string _apiKey = string.Empty;
    private int _finished;

    public static string PromptText(int prompt) => $"Once upon a time there was {Openings[prompt % Openings.Length]}. Tell me what happened.";

    public static int PromptCount => Openings.Length;

    public Dictionary<int, string> References { get; } = [];

    public List<StreamOutcome> ReferenceRequests { get; } = [];

    public double Progress => (double)Volatile.Read(ref _finished) / settings.Jobs;

    /// <summary>Each prompt once, before any fault; null when all answered, else why not.</summary>
    public async Task<string?> ReferencesAsync(CancellationToken cancellationToken)
    {
        _apiKey = stack.ApiKey;
        using (var request = new HttpRequestMessage(HttpMethod.Get, stack.GatewayUrl(0) + "/v1/models"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
            using var response = await _http.SendAsync(request, cancellationToken);
            using var models = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            _model = models.RootElement.GetProperty("data")[0].GetProperty("id").GetString() ?? string.Empty;
        }

        var prompts = Enumerable.Range(0, Math.Min(PromptCount, settings.Jobs)).ToList();
        using var gate = new SemaphoreSlim(settings.Concurrency);
        var outcomes = await Task.WhenAll(prompts.Select(async p =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                return await SendAsync(p % ChaosSettings.Gateways, p, cancellationToken);
            }
            finally
            {
                gate.Release();
            }
        }));
        ReferenceRequests.AddRange(outcomes);
        foreach (var o in outcomes)
        {
            if (!o.Completed)
            {
                return $"prompt {o.Prompt} was not answered before any fault (status {o.Status}, error {o.ErrorCode ?? o.Transport}); the stack is not healthy";
            }

            References[o.Prompt] = o.Text;
        }

        return null;
    }

    /// <summary>Runs every job with the faults; returns the jobs in order.</summary>
    public async Task<List<ChaosJob>> RunAsync(CancellationToken cancellationToken)
    {
        var jobs = new ConcurrentBag<ChaosJob>();
        using var gate = new SemaphoreSlim(settings.Concurrency);
        Task gatewayKill = Task.CompletedTask, redisRestart = Task.CompletedTask;
        var running = new List<Task>(settings.Jobs);
        var nextNote = 0.1;
        for (var i = 0; i < settings.Jobs; i++)
        {
            await gate.WaitAsync(cancellationToken);
            if (faults.BehindOnWorkerKills(i))
            {
                if (!await faults.ReadyToKillWorkerAsync(cancellationToken))
                {
                    // Jobs can be quicker than a worker's restart: the run waits for it rather than end short of its kills.
                    await faults.WaitReadyToKillWorkerAsync(cancellationToken);
                }
                else if (i - Volatile.Read(ref _finished) >= settings.Concurrency - 1)
                {
                    // With every other slot busy, so the kill meets the jobs in flight.
                    await faults.KillWorkerAsync(cancellationToken);
                }
            }

            if (i == settings.Jobs * 3 / 10)
            {
                gatewayKill = faults.KillGatewayAsync(cancellationToken);
            }
            else if (i == settings.Jobs * 6 / 10)
            {
                // Once gateway 2 is back (the run waits for it), so the two faults are measured apart.
                await gatewayKill;
                redisRestart = faults.RestartRedisAsync(cancellationToken);
            }

            var index = i;
            running.Add(Task.Run(async () =>
            {
                try
                {
                    jobs.Add(await JobAsync(index, cancellationToken));
                }
                finally
                {
                    gate.Release();
                    Interlocked.Increment(ref _finished);
                }
            }, cancellationToken));
            if (Progress >= nextNote)
            {
                Say($"{Volatile.Read(ref _finished)} of {settings.Jobs} jobs done");
                nextNote += 0.1;
            }
        }

        await Task.WhenAll(running);
        await gatewayKill;
        await redisRestart;
        return jobs.OrderBy(j => j.Index).ToList();
    }

    private async Task<ChaosJob> JobAsync(int index, CancellationToken cancellationToken)
    {
        var prompt = index % Math.Min(PromptCount, settings.Jobs);
        // A client that knows gateway 2 is down (its connection was refused) sends to gateway 1.
        var gateway = faults.GatewayDown ? 0 : index % ChaosSettings.Gateways;
        var first = await SendAsync(gateway, prompt, cancellationToken);
        if (!faults.CutByGatewayKill(first))
        {
            return new ChaosJob(index, prompt, [first]);
        }

        // The connection to the killed gateway was refused or dropped: the client saw it and asks the other gateway.
        var retry = await SendAsync(0, prompt, cancellationToken);
        return new ChaosJob(index, prompt, [first, retry]);
    }

    private Task<StreamOutcome> SendAsync(int gateway, int prompt, CancellationToken cancellationToken) =>
        StreamedRequest.RunAsync(_http, stack.GatewayUrl(gateway), _apiKey, _model, gateway, prompt, PromptText(prompt), settings.MaxTokens, settings.RequestTimeout, cancellationToken);

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine($"cocoon chaos: {DateTime.UtcNow:HH:mm:ss} {line}");
        }
    }

    public void Dispose() => _http.Dispose();
}
