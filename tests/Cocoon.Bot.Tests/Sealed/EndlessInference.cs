using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Inference;

namespace Cocoon.Bot.Tests.Sealed;

/// <summary>
/// A worker's inference that streams a few words and then waits for its cancellation token: the stand-in for a long
/// answer, so a test can stop a job mid-stream without racing the model to its end. It counts the jobs that started and
/// the ones that stopped because they were cancelled.
/// </summary>
public sealed class EndlessInference : IInferenceService
{
    private readonly ConcurrentQueue<TaskCompletionSource> _stops = new();
    private int _started;
    private int _stopped;

    public ModelInfo Model { get; } = new("endless-test", new string('e', 64), "none", 0, 4096, 4096, HasChatTemplate: false);

    public int MaxConcurrency => 4;

    public int Started => Volatile.Read(ref _started);

    public int Stopped => Volatile.Read(ref _stopped);

    /// <summary>Completes when the next job (counting from this call) stops because it was cancelled.</summary>
    public Task NextStop()
    {
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stops.Enqueue(stop);
        return stop.Task;
    }

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _started);
        yield return new GenerationChunk("Once upon");
        yield return new GenerationChunk(" a time");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        finally
        {
            Interlocked.Increment(ref _stopped);
            if (_stops.TryDequeue(out var stop))
            {
                stop.TrySetResult();
            }
        }

        yield return new GenerationChunk(string.Empty, new GenerationUsage(1, 2, FinishReason.Length, TimeSpan.Zero, TimeSpan.Zero));
    }
}
