using System.Net;
using System.Text.Json;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Testing;
using Cocoon.Testing.Onnx;
using Cocoon.Worker.Embeddings;
using Cocoon.Worker.Hosting;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Bot.Tests.Embeddings;

/// <summary>
/// The whole path for embeddings, nothing scripted: the gateway as shipped on Kestrel, the real dispatcher and ledger,
/// a real redis-server with AOF on, one worker host serving the synthetic ONNX embedding model on ONNX Runtime and one
/// serving the small chat model on llama.cpp (so a request to the wrong kind of model can be made). All logs captured.
/// </summary>
public sealed class EmbeddingStackFixture : IAsyncLifetime
{
    public const string EmbeddingModel = "synthetic-embed";

    public RedisServer Redis { get; } = new(appendOnly: true);

    public TempDir Data { get; } = new("cocoon-embed-full");

    public string Prefix { get; } = "e" + Guid.NewGuid().ToString("N")[..10] + ":";

    public GatewayFactory Gateway { get; private set; } = null!;

    public IHost EmbeddingWorker { get; private set; } = null!;

    public IHost ChatWorker { get; private set; } = null!;

    public string ChatModel { get; private set; } = string.Empty;

    /// <summary>The folder that holds model.onnx and vocab.txt (outside the data folder, as a provider's model is).</summary>
    public TempDir ModelDir { get; } = new("cocoon-embed-model");

    public string ModelPath => Path.Combine(ModelDir.Path, EmbeddingModel);

    public CapturingLoggerProvider Logs => Gateway.Logs;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        var model = SyntheticOnnxEmbedding.Write(ModelPath);
        Gateway = new GatewayFactory(Redis.Endpoint, Data.Path, "sk-cocoon-embed-" + Guid.NewGuid().ToString("N"), settings: new Dictionary<string, string?>
        {
            ["Redis:Prefix"] = Prefix,
            ["Gateway:AllowSimulated"] = "true",
            ["Gateway:TrustedSimulatedPlatformKeys:0"] = Convert.ToHexStringLower(Cocoon.Worker.Attestation.SimulatedTeeProvider.ReadPlatformPublicKey(Path.Combine(Data.Path, "tee"))),
            ["Gateway:AcceptAnySimulatedMeasurement"] = "true",
            ["Gateway:AllowLocalProvider"] = "true",
            ["Gateway:RegistryRefresh"] = "00:00:00.100",
            ["Gateway:ResultPoll"] = "00:00:00.050",
        });
        Gateway.Start();

        EmbeddingWorker = await StartWorkerAsync(new Dictionary<string, string?>
        {
            ["Embeddings:Model"] = model,
            ["Embeddings:MaxTokens"] = "128",
            ["Embeddings:Threads"] = "1",
        }, (services, configuration) => services.AddOnnxEmbeddings(configuration), ct);
        ChatWorker = await StartWorkerAsync(new Dictionary<string, string?>
        {
            ["Worker:Model"] = SharedFiles.SmallModel,
            ["Llama:MaxConcurrency"] = "2",
            ["Llama:Threads"] = "1",
        }, (services, configuration) => services.AddLlamaInference(configuration), ct);

        using var client = Gateway.CreateApiClient();
        while (true)
        {
            using var doc = JsonDocument.Parse(await client.GetStringAsync("v1/models", ct));
            var models = doc.RootElement.GetProperty("data").EnumerateArray()
                .Where(m => m.GetProperty("workers").GetArrayLength() > 0).Select(m => m.GetProperty("id").GetString()!).ToList();
            if (models.Count == 2 && models.Contains(EmbeddingModel))
            {
                ChatModel = models.Single(m => m != EmbeddingModel);
                break;
            }

            await Task.Delay(100, ct);
        }
    }

    private async Task<IHost> StartWorkerAsync(Dictionary<string, string?> settings, Action<IServiceCollection, IConfiguration> addModel, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Redis:Endpoint"] = Redis.Endpoint,
            ["Redis:Prefix"] = Prefix,
            ["Cocoon:DataDir"] = Data.Path,
            ["Worker:HeartbeatInterval"] = "00:00:00.200",
            ["Worker:HeartbeatTtl"] = "00:00:01",
            ["Worker:JobPoll"] = "00:00:00.050",
        }.Concat(settings));
        builder.Logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs);
        addModel(builder.Services, builder.Configuration);
        builder.Services.AddWorkerHost(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync(ct);
        return host;
    }

    public async Task DisposeAsync()
    {
        foreach (var worker in new[] { EmbeddingWorker, ChatWorker })
        {
            if (worker is not null)
            {
                await worker.StopAsync(CancellationToken.None);
                worker.Dispose();
            }
        }

        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        Redis.Dispose();
        Data.Dispose();
        ModelDir.Dispose();
    }
}
