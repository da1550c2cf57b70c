using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Collections.Concurrent;
using Cocoon.Ledger;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// A gateway (dispatcher + ledger on a SQLite file) and workers on a real redis-server, all with one unique key
/// prefix and data folder, so tests run in parallel. Workers run in-process (AddWorkerHost + the real llama.cpp
/// service) or as the built Cocoon.Worker executable (`run`) when a test must kill one.
/// </summary>
public sealed class DispatchNetwork : IAsyncDisposable
{
    private readonly List<IHost> _workers = [];
    private readonly List<Process> _processes = [];
    private readonly MeterListener _listener = new();

    private readonly RedisServer? _server;
    private readonly string _endpoint;

    public DispatchNetwork(RedisServer redis, IDictionary<string, string?>? gatewaySettings = null, Action<IServiceCollection, IConfiguration>? gatewayServices = null)
        : this(redis.Endpoint, gatewaySettings, redis, gatewayServices)
    {
    }

    /// <summary>On any Redis endpoint (a cluster's node list, with its password): then <see cref="Redis"/> is not available.</summary>
    public DispatchNetwork(string redisEndpoint, IDictionary<string, string?>? gatewaySettings = null)
        : this(redisEndpoint, gatewaySettings, null, null)
    {
    }

    private DispatchNetwork(string redisEndpoint, IDictionary<string, string?>? gatewaySettings, RedisServer? server, Action<IServiceCollection, IConfiguration>? gatewayServices)
    {
        _server = server;
        _endpoint = redisEndpoint;
        Data = new TempDir("cocoon-dispatch");
        Prefix = "t" + Guid.NewGuid().ToString("N")[..10] + ":";
        var settings = BaseSettings.With(LocalStackSettings.TestGateway(Prefix, Data.Path)).With(new Dictionary<string, string?>
        {
            // Spot-check replays pick requests at random (2%): off here so that no test sees a replay job it did not
            // ask for; the replay tests turn them on.
            ["Gateway:Replays:Fraction"] = "0",
        }).With(gatewaySettings);

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddProvider(new ListLoggerProvider(Logs));
        builder.Services.AddDispatch(builder.Configuration);
        builder.Services.AddCocoonLedger(builder.Configuration);
        gatewayServices?.Invoke(builder.Services, builder.Configuration);
        Gateway = builder.Build();

        // Parallel tests each have their own meter factory: count only this gateway's instruments.
        var factory = Gateway.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GatewayMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "cocoon.refusals")
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "reason")
                    {
                        Refusals.AddOrUpdate((string)tag.Value!, value, (_, v) => v + value);
                    }
                }
            }
        });
        _listener.Start();
    }

    public RedisServer Redis => _server ?? throw new InvalidOperationException("this network runs on a Redis endpoint, not a RedisServer");

    public TempDir Data { get; }

    public string Prefix { get; }

    public IHost Gateway { get; }

    public ConcurrentQueue<string> Logs { get; } = new();

    public ConcurrentDictionary<string, long> Refusals { get; } = new(StringComparer.Ordinal);

    public IDispatcher Dispatcher => Gateway.Services.GetRequiredService<IDispatcher>();

    public ILedger Ledger => Gateway.Services.GetRequiredService<ILedger>();

    public WorkerDirectory Directory => Gateway.Services.GetRequiredService<WorkerDirectory>();

    public RedisKeys Keys => Gateway.Services.GetRequiredService<RedisKeys>();

    public IConnectionMultiplexer Connection => Gateway.Services.GetRequiredService<IConnectionMultiplexer>();

    private Dictionary<string, string?> BaseSettings => LocalStackSettings.Node(_endpoint, Prefix, Data.Path).With(new Dictionary<string, string?>
    {
        ["Worker:Model"] = SharedFiles.SmallModel,
    });

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Gateway.StartAsync(cancellationToken);
        await Gateway.Services.GetRequiredService<ResultRouter>().Ready.WaitAsync(cancellationToken);
    }

    public async Task<AccountId> FundedPayerAsync(long amount, CancellationToken cancellationToken)
    {
        var payer = AccountId.ApiKey(Guid.NewGuid().ToString("N")[..8]);
        await Ledger.CreditAsync(payer, amount, AccountId.FreeAllowance, "fund:" + payer.Value, cancellationToken);
        return payer;
    }

    /// <summary>An in-process worker with the real llama.cpp service on the small model (or the given inference service).</summary>
    public async Task<(IHost Host, WorkerSession Session)> StartWorkerAsync(
        CancellationToken cancellationToken, IDictionary<string, string?>? settings = null, IInferenceService? inference = null, Func<IInferenceService, IInferenceService>? wrap = null,
        TimeProvider? jobDeadlines = null, Action<IServiceCollection>? services = null)
    {
        var all = LocalStackSettings.TestWorker(_endpoint, Prefix, Data.Path)
            .With(BaseSettings).With(LocalStackSettings.LlamaChunkPerToken(maxConcurrency: 4)).With(settings);

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(all);
        builder.Logging.AddProvider(new ListLoggerProvider(Logs));
        if (inference is null)
        {
            builder.Services.AddLlamaInference(builder.Configuration);
            if (wrap is not null)
            {
                // The last registration wins: the worker gets the real service seen through the test's wrapper.
                builder.Services.AddSingleton(sp => wrap(sp.GetRequiredService<LlamaInferenceHolder>()));
            }
        }
        else
        {
            builder.Services.AddSingleton(inference);
        }

        if (jobDeadlines is not null)
        {
            // Registered before AddWorkerHost, whose TryAdd then keeps it: the clock of the jobs' own deadlines only.
            builder.Services.AddKeyedSingleton(JobProcessor.DeadlineClock, jobDeadlines);
        }

        // The test's own registrations (a JoinedWorker, say) before AddWorkerHost, whose TryAdds then keep them.
        services?.Invoke(builder.Services);
        builder.Services.AddWorkerHost(builder.Configuration);
        var host = builder.Build();
        _workers.Add(host);
        await host.StartAsync(cancellationToken);
        var session = await host.Services.GetRequiredService<WorkerHost>().Session.WaitAsync(cancellationToken);
        await WaitForWorkerAsync(session.WorkerId, cancellationToken);
        return (host, session);
    }

    /// <summary>The built Cocoon.Worker executable with `run`, as a child process (so a test can SIGKILL it).</summary>
    public Process StartWorkerProcess(string workerId)
    {
        var psi = new ProcessStartInfo(Join.WorkerProcess.Executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("run");
        Join.WorkerProcess.SetTestEnvironment(psi, Data.Path);
        psi.Environment["COCOON_REDIS"] = _endpoint;
        psi.Environment["Redis__Prefix"] = Prefix;
        psi.Environment["Worker__Id"] = workerId;
        psi.Environment.Remove("COCOON_WORKER_TOKEN");
        var process = Process.Start(psi) ?? throw new InvalidOperationException("Cocoon.Worker did not start");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { Logs.Enqueue("[" + workerId + "] " + e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Logs.Enqueue("[" + workerId + "!] " + e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    public async Task WaitForWorkerAsync(string workerId, CancellationToken cancellationToken)
    {
        while (!Directory.Eligible.Any(w => w.Document.WorkerId == workerId))
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>
    /// Dispatches as a caller that goes away: <paramref name="whileConnected"/> reads what it needs of the events, then
    /// the caller cancels (an HTTP client disconnecting, Telegram's Stop) and the dispatch unwinds.
    /// </summary>
    public async Task DispatchAndLeaveAsync(DispatchRequest request, Func<IAsyncEnumerator<DispatchEvent>, Task> whileConnected, CancellationToken cancellationToken)
    {
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var events = Dispatcher.DispatchAsync(request, caller.Token).GetAsyncEnumerator(caller.Token);
        try
        {
            await whileConnected(events);
            await caller.CancelAsync();
        }
        finally
        {
            await events.DisposeAsync();
        }
    }

    /// <summary>Waits until the in-process worker <paramref name="worker"/> runs no job (its slots are free again).</summary>
    public static async Task WaitForIdleAsync(IHost worker, CancellationToken cancellationToken)
    {
        var host = worker.Services.GetRequiredService<WorkerHost>();
        while (host.Running != 0)
        {
            await Task.Delay(20, cancellationToken);
        }
    }

    public async Task<(string Text, DispatchReceipt Receipt)> AskAsync(DispatchRequest request, CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder();
        DispatchReceipt? receipt = null;
        await foreach (var e in Dispatcher.DispatchAsync(request, cancellationToken))
        {
            switch (e)
            {
                case DispatchPiece p:
                    text.Append(p.Text);
                    break;
                case DispatchCompleted c:
                    receipt = c.Receipt;
                    break;
            }
        }

        return (text.ToString(), receipt ?? throw new InvalidOperationException("no receipt"));
    }

    /// <summary>A worker's settings putting it in <paramref name="region"/>: a request for that region is answered by it.</summary>
    public static Dictionary<string, string?> InRegion(string region) => new() { ["Worker:Region"] = region };

    public static DispatchRequest Request(AccountId payer, string prompt, int maxTokens, string model = "stories260K") => new()
    {
        RequestId = "req-" + Guid.NewGuid().ToString("N")[..12],
        Payer = payer,
        Model = model,
        Generation = new GenerationRequest { Prompt = prompt, Sampling = new SamplingOptions { MaxTokens = maxTokens, Temperature = 0, Seed = 7 } },
        Timeout = TimeSpan.FromSeconds(60),
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _processes)
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync();
            }

            p.Dispose();
        }

        foreach (var w in _workers)
        {
            await w.StopAsync(CancellationToken.None);
            w.Dispose();
        }

        await Gateway.StopAsync(CancellationToken.None);
        Gateway.Dispose();
        _listener.Dispose();
        Data.Dispose();
    }
}

/// <summary>Collects formatted log lines so tests can check what was (and was not) logged.</summary>
public sealed class ListLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new ListLogger(lines, categoryName);

    public void Dispose()
    {
    }

    private sealed class ListLogger(ConcurrentQueue<string> lines, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lines.Enqueue($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)}{(exception is null ? "" : " " + exception.GetType().Name)}");
        }
    }
}
