using System.Net;
using System.Text.Json;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Testing.Onnx;
using Cocoon.Worker.Embeddings;
using Microsoft.Extensions.Configuration;
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
        Gateway = new GatewayFactory(Redis.Endpoint, Data.Path, "sk-cocoon-embed-" + Guid.NewGuid().ToString("N"), settings: LocalStackSettings.TestGateway(Prefix, Data.Path));
        Gateway.Start();

        EmbeddingWorker = await StartWorkerAsync(new Dictionary<string, string?>
        {
            ["Embeddings:Model"] = model,
            ["Embeddings:MaxTokens"] = "128",
            ["Embeddings:Threads"] = "1",
        }, (services, configuration) => services.AddOnnxEmbeddings(configuration), ct);
        ChatWorker = await StartWorkerAsync(LocalStackSettings.Llama(maxConcurrency: 2).With(new Dictionary<string, string?>
        {
            ["Worker:Model"] = SharedFiles.SmallModel,
        }), (services, configuration) => services.AddLlamaInference(configuration), ct);

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

    private Task<IHost> StartWorkerAsync(Dictionary<string, string?> settings, Action<IServiceCollection, IConfiguration> addModel, CancellationToken ct) =>
        LocalStack.StartWorkerAsync(LocalStackSettings.TestWorker(Redis.Endpoint, Prefix, Data.Path).With(settings), Logs, addModel, ct);

    public async Task DisposeAsync()
    {
        await LocalStack.StopAsync(EmbeddingWorker);
        await LocalStack.StopAsync(ChatWorker);

        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        Redis.Dispose();
        Data.Dispose();
        ModelDir.Dispose();
    }
}
