using System.Runtime.CompilerServices;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Inference;

namespace Cocoon.Bench.Dispatch;

/// <summary>
/// FOR THE DISPATCH BENCHMARK ONLY: an inference service that answers every request at once with one fixed token,
/// so that what the benchmark measures is the transport (sealing, Redis streams, leases, receipts, ledger), not
/// inference. Never registered outside the benchmark.
/// </summary>
public sealed class InstantInferenceService : IInferenceService
{
    public const string Token = "ok";

    public ModelInfo Model { get; } = new("instant-bench", new string('b', 64), "none", 0, 4096, 4096, HasChatTemplate: false);

    public int MaxConcurrency => 256;

    private long _calls;
    private long _lastCall;

    /// <summary>How many requests reached the service, and the Stopwatch timestamp of the latest (to split time to first token into legs).</summary>
    public (long Calls, long LastCallTimestamp) Calls => (Interlocked.Read(ref _calls), Interlocked.Read(ref _lastCall));

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        Interlocked.Exchange(ref _lastCall, System.Diagnostics.Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _calls);
        yield return new GenerationChunk(Token);
        await Task.CompletedTask.ConfigureAwait(false);
        yield return new GenerationChunk(string.Empty, new GenerationUsage(1, 1, FinishReason.Length, TimeSpan.Zero, TimeSpan.Zero));
    }
}
