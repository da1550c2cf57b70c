using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>
/// Stands in for the dispatcher (another branch's work) at the IDispatcher seam: streams scripted pieces and a
/// receipt, and records every request so tests can assert that nothing was dispatched. The end-to-end test uses the
/// real dispatcher instead.
/// </summary>
public sealed class ScriptedDispatcher : IDispatcher
{
    private readonly ConcurrentQueue<DispatchRequest> _requests = new();

    public Func<DispatchRequest, IReadOnlyList<string>> Answer { get; set; } = _ => ["Hello", ", world", "!"];

    /// <summary>Runs before the first piece (block, throw, ...).</summary>
    public Func<DispatchRequest, CancellationToken, Task>? BeforeAnswer { get; set; }

    public TimeSpan PieceDelay { get; set; } = TimeSpan.Zero;

    public IReadOnlyList<string> Models { get; set; } = ["stories260K"];

    public IReadOnlyList<DispatchRequest> Requests => [.. _requests];

    public async IAsyncEnumerable<DispatchEvent> DispatchAsync(DispatchRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
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
            request.RequestId, request.Model, 7, pieces.Count, FinishReason.Stop, 1234, "worker-1", "provider-1", "simulated", now, now, now, now));
    }

    public Task<IReadOnlyList<ServedModel>> GetModelsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ServedModel>>([.. Models.Select(m => new ServedModel(m, "00", [new ServedWorker("worker-1", "provider-1", 1000, 0, 4, "simulated")]))]);
}

/// <summary>
/// An in-memory ledger at the ILedger seam until the ledger branch lands: balances and idempotency keys only,
/// enough to assert "credited once" and "not enough balance".
/// </summary>
public sealed class MemoryLedger : ILedger
{
    private readonly Lock _lock = new();
    private readonly Dictionary<AccountId, long> _balances = [];
    private readonly HashSet<string> _keys = [];

    public int Credits { get; private set; }

    public Task CreditAsync(AccountId account, long amount, AccountId source, string idempotencyKey, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_keys.Add(idempotencyKey))
            {
                Credits++;
                _balances[account] = _balances.GetValueOrDefault(account) + amount;
                _balances[source] = _balances.GetValueOrDefault(source) - amount;
            }
        }

        return Task.CompletedTask;
    }

    public Task<long> GetBalanceAsync(AccountId account, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_balances.GetValueOrDefault(account));
        }
    }

    public Task<Hold> HoldAsync(AccountId payer, long amount, string idempotencyKey, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<long> SettleAsync(Guid holdId, IReadOnlyList<Payee> payees, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task ReleaseAsync(Guid holdId, CancellationToken cancellationToken) => throw new NotSupportedException();
}
