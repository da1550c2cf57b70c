using Cocoon.Bot.Dispatch;
using Cocoon.Ledger;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;
using Cocoon.Worker.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Bench;

/// <summary>
/// A gateway (dispatcher + ledger) and one in-process worker host on a benchmark's redis-server, started once for the
/// benchmarks that measure the gateway's dispatch path (dispatch, serve, embeddings): both hosts up, the worker seen in
/// the gateway's directory, the result router reading, and a payer with more than a run can spend. The gateway is
/// measured at the dispatcher: HTTP is not in it.
/// </summary>
public sealed class BenchNetwork : IAsyncDisposable
{
    private int _stopped;

    private BenchNetwork(IHost gateway, IHost worker, AccountId payer, string model)
    {
        Gateway = gateway;
        Worker = worker;
        Payer = payer;
        Model = model;
    }

    public IHost Gateway { get; }

    public IHost Worker { get; }

    /// <summary>The funded payer: api key bench-PREFIX.</summary>
    public AccountId Payer { get; }

    /// <summary>The worker's model name, as a request names it.</summary>
    public string Model { get; }

    public IDispatcher Dispatcher => Gateway.Services.GetRequiredService<IDispatcher>();

    /// <summary>
    /// Starts the pair under Redis key prefix <paramref name="prefix"/> with data in <paramref name="dataDir"/>:
    /// <paramref name="settings"/> are written over the node's settings and under the gateway's trust of this
    /// machine's simulated worker; <paramref name="addBackend"/> adds the worker's inference or embedding service and
    /// <paramref name="model"/> reads its model name.
    /// </summary>
    public static async Task<BenchNetwork> StartAsync(
        RedisServer redis, string prefix, string dataDir, IEnumerable<KeyValuePair<string, string?>> settings,
        Action<IServiceCollection, IConfiguration> addBackend, Func<IServiceProvider, string> model, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(addBackend);
        ArgumentNullException.ThrowIfNull(model);
        var all = LocalStackSettings.Node(redis.Endpoint, prefix, dataDir).With(settings)
            .With(LocalStackSettings.TrustLocalWorkers(dataDir, LocalStackSettings.BenchRegistryRefresh));

        var workerBuilder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        workerBuilder.Configuration.AddInMemoryCollection(all);
        workerBuilder.Logging.SetMinimumLevel(LogLevel.Warning);
        addBackend(workerBuilder.Services, workerBuilder.Configuration);
        workerBuilder.Services.AddWorkerHost(workerBuilder.Configuration);
        var worker = workerBuilder.Build();

        var gatewayBuilder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        gatewayBuilder.Configuration.AddInMemoryCollection(all);
        gatewayBuilder.Logging.SetMinimumLevel(LogLevel.Warning);
        gatewayBuilder.Services.AddDispatch(gatewayBuilder.Configuration);
        gatewayBuilder.Services.AddCocoonLedger(gatewayBuilder.Configuration);
        var gateway = gatewayBuilder.Build();

        try
        {
            await gateway.StartAsync(ct).ConfigureAwait(false);
            await worker.StartAsync(ct).ConfigureAwait(false);
            var session = await worker.Services.GetRequiredService<WorkerHost>().Session.WaitAsync(ct).ConfigureAwait(false);
            var directory = gateway.Services.GetRequiredService<WorkerDirectory>();
            while (directory.Find(session.WorkerId) is null)
            {
                await Task.Delay(50, ct).ConfigureAwait(false);
            }

            await gateway.Services.GetRequiredService<ResultRouter>().Ready.WaitAsync(ct).ConfigureAwait(false);
            var payer = AccountId.ApiKey("bench-" + prefix.TrimEnd(':'));
            await gateway.Services.GetRequiredService<ILedger>().CreditAsync(payer, 1_000_000_000_000_000, AccountId.FreeAllowance, "bench:" + payer.Value, ct).ConfigureAwait(false);
            return new BenchNetwork(gateway, worker, payer, model(worker.Services));
        }
        catch
        {
            await StopAsync(worker, gateway).ConfigureAwait(false);
            worker.Dispose();
            gateway.Dispose();
            throw;
        }
    }

    /// <summary>Stops the worker, then the gateway (once; a benchmark stops them before it prints, so they do not load the machine).</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await StopAsync(Worker, Gateway).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        Worker.Dispose();
        Gateway.Dispose();
    }

    private static async Task StopAsync(IHost worker, IHost gateway)
    {
        await worker.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await gateway.StopAsync(CancellationToken.None).ConfigureAwait(false);
    }
}
