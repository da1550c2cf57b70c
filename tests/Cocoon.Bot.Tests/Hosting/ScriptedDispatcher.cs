using System.Runtime.CompilerServices;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Tests.Hosting;

/// <summary>
/// A dispatcher whose outcome the test chooses by model name: the seam for the API's error mapping (busy workers,
/// missing funds, a failure after streaming began), which a real worker cannot be made to produce on demand.
/// The full request path is tested with the real dispatcher and worker elsewhere.
/// </summary>
public sealed class ScriptedDispatcher : IDispatcher
{
    public const string Answering = "scripted-echo";
    public const string Busy = "scripted-busy";
    public const string Broke = "scripted-broke";
    public const string FailsMidStream = "scripted-fails-mid-stream";
    public const string Crashes = "scripted-crashes";

    public List<DispatchRequest> Requests { get; } = [];

    public Task<IReadOnlyList<ServedModel>> GetModelsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ServedModel>>(
            new[] { Answering, Busy, Broke, FailsMidStream, Crashes }
                .Select(name => new ServedModel(name, new string('a', 64), [new ServedWorker("worker-1", "provider-1", 1000, 0, 4, "simulated")]))
                .ToList());

    public async IAsyncEnumerable<DispatchEvent> DispatchAsync(DispatchRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        lock (Requests)
        {
            Requests.Add(request);
        }

        await Task.Yield();
        switch (request.Model)
        {
            case Busy:
                throw new WorkersBusyException(TimeSpan.FromSeconds(2.5));
            case Broke:
                throw new InsufficientFundsException(request.Payer, 5000, 12);
            case Crashes:
                throw new InvalidOperationException("boom");
        }

        var start = DateTimeOffset.UtcNow;
        yield return new DispatchPiece("Hello");
        yield return new DispatchPiece(", world");
        if (request.Model == FailsMidStream)
        {
            throw new IOException("worker vanished");
        }

        yield return new DispatchCompleted(new DispatchReceipt(
            request.RequestId, request.Model ?? "", 7, 2, FinishReason.Stop, 1234, "worker-1", "provider-1", "simulated",
            start, start.AddMilliseconds(1), start.AddMilliseconds(5), DateTimeOffset.UtcNow,
            // A request with a conversation (a cache scope) reports 3 of its 7 prompt tokens cached.
            CachedPromptTokens: request.Conversation is null ? 0 : 3));
    }
}
