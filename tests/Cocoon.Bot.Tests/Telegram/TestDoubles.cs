using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>
/// Stands in for the dispatcher at the IDispatcher seam, so the bot's own behaviour is tested without a worker:
/// streams scripted pieces and a receipt, and records every request that got past its hold so tests can assert that
/// nothing was dispatched. Like the real dispatcher it resolves a request without a model to the first served one, and
/// with <see cref="Ledger"/> set its hold on the real ledger is the balance check. The end-to-end test uses the real
/// dispatcher instead.
/// </summary>
public sealed class ScriptedDispatcher : IDispatcher
{
    private readonly ConcurrentQueue<DispatchRequest> _requests = new();

    public Func<DispatchRequest, IReadOnlyList<string>> Answer { get; set; } = _ => ["Hello", ", world", "!"];

    /// <summary>Runs before the first piece (block, throw, ...).</summary>
    public Func<DispatchRequest, CancellationToken, Task>? BeforeAnswer { get; set; }

    public TimeSpan PieceDelay { get; set; } = TimeSpan.Zero;

    public IReadOnlyList<string> Models { get; set; } = ["stories260K"];

    /// <summary>The attestation kind the scripted receipts name (so the trust tier an answer carries).</summary>
    public string AttestationKind { get; set; } = "simulated";

    public IReadOnlyList<DispatchRequest> Requests => [.. _requests];

    /// <summary>When set, each request holds one nanoton first (InsufficientFundsException on an empty account) and releases it.</summary>
    public ILedger? Ledger { get; set; }

    public async IAsyncEnumerable<DispatchEvent> DispatchAsync(DispatchRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var model = request.Model ?? (Models.Count > 0 ? Models[0] : throw new ModelUnavailableException(null));
        if (Ledger is { } ledger)
        {
            var hold = await ledger.HoldAsync(request.Payer, 1, "scripted:" + request.RequestId, cancellationToken);
            await ledger.ReleaseAsync(hold.Id, cancellationToken);
        }

        _requests.Enqueue(request);
        if (BeforeAnswer is { } before)
        {
            await before(request, cancellationToken);
        }

        var pieces = Answer(request);
        foreach (var piece in pieces)
        {
            if (PieceDelay > TimeSpan.Zero)
            {
                await Task.Delay(PieceDelay, cancellationToken);
            }

            yield return new DispatchPiece(piece);
        }

        var now = DateTimeOffset.UtcNow;
        yield return new DispatchCompleted(new DispatchReceipt(
            request.RequestId, model, 7, pieces.Count, FinishReason.Stop, 1234, "worker-1", "provider-1", AttestationKind, now, now, now, now));
    }

    public Task<IReadOnlyList<ServedModel>> GetModelsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ServedModel>>([.. Models.Select(m => new ServedModel(m, "00", [new ServedWorker("worker-1", "provider-1", 1000, 0, 4, "simulated")]))]);
}
