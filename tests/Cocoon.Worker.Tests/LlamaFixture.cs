using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cocoon.Worker.Tests;

/// <summary>The small model loaded once for a test class: 8 sequences of 256 tokens, one thread (the test machine is shared).</summary>
public sealed class LlamaFixture : IAsyncLifetime
{
    public const int ContextSize = 256;

    public LlamaInferenceService Service { get; private set; } = null!;

    public TempDir Data { get; } = new("cocoon-llama-test");

    public static LlamaInferenceOptions Options(TempDir data) => new()
    {
        Model = SharedFiles.SmallModel,
        LibraryDir = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR"),
        Threads = 1,
        ContextSize = ContextSize,
        MaxConcurrency = 8,
        BatchSize = 512,
        DataDir = data.Path,

        // One chunk per token: the tests count chunks to act mid-stream.
        ChunkIntervalMs = 0,

        // The seeded-sampling-in-a-batch test holds only with lone steps padded (off by default, for speed).
        BatchInvariantSampling = true,
    };

    public static ILoggerFactory Loggers => NullLoggerFactory.Instance;

    public async Task InitializeAsync() =>
        Service = await LlamaInferenceService.LoadAsync(Options(Data), Loggers, TimeProvider.System, null, CancellationToken.None);

    public Task DisposeAsync()
    {
        Service.Dispose();
        Data.Dispose();
        return Task.CompletedTask;
    }
}
