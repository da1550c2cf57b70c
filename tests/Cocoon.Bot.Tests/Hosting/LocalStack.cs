using System.Net;
using Cocoon.Ledger.LocalChain;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Bot.Tests.Hosting;

/// <summary>The host building the full-stack fixtures share: an in-process worker, the wait for a healthy gateway, the stop.</summary>
internal static class LocalStack
{
    /// <summary>
    /// Starts a worker host on <paramref name="settings"/> (see <see cref="LocalStackSettings.TestWorker"/>) that logs at
    /// Trace into <paramref name="logs"/>; <paramref name="addModel"/> registers what it serves.
    /// </summary>
    public static async Task<IHost> StartWorkerAsync(
        IEnumerable<KeyValuePair<string, string?>> settings, ILoggerProvider logs, Action<IServiceCollection, IConfiguration> addModel, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Trace).AddProvider(logs);
        addModel(builder.Services, builder.Configuration);
        builder.Services.AddWorkerHost(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return host;
    }

    /// <summary>The local chain (Cocoon.Ledger/LocalChain: @ton/sandbox behind toncenter's HTTP API, with the stake contract).</summary>
    public static Task<LocalChainProcess> StartChainAsync(CancellationToken cancellationToken) =>
        LocalChainProcess.StartAsync(
            new LocalChainOptions { ScriptDirectory = Path.Combine(SharedFiles.RepoRoot, "Cocoon.Ledger", "LocalChain") }, null, cancellationToken);

    /// <summary>Polls the gateway's /healthz until it answers 200 (a worker is registered) and returns that body.</summary>
    public static async Task<string> WaitHealthyAsync(Uri baseAddress, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { BaseAddress = baseAddress };
        while (true)
        {
            using var health = await client.GetAsync("healthz", cancellationToken);
            if (health.StatusCode == HttpStatusCode.OK)
            {
                return await health.Content.ReadAsStringAsync(cancellationToken);
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Stops and disposes a worker host, if it was started.</summary>
    public static async Task StopAsync(IHost? worker)
    {
        if (worker is not null)
        {
            await worker.StopAsync(CancellationToken.None);
            worker.Dispose();
        }
    }
}
