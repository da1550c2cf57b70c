using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Receipts;

namespace Cocoon.Bot.Receipts;

/// <summary>
/// Keeps each verified receipt for its payer (<c>GET /v1/receipts/{id}</c>) and for the next anchor. Called after the
/// charge is posted; a storage failure is logged, never turned into a failed answer (the user was served and billed).
/// </summary>
public sealed partial class ReceiptBook(ReceiptStore store, TimeProvider time, ILogger<ReceiptBook> logger)
{
    // A worker's bundle is one object for as long as its registration is unchanged, and every answer it gives keeps
    // the same JSON of it: serialised once per bundle, not once per answer.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<AttestationBundle, string> _attestations = [];

    public async Task RecordAsync(string requestId, AccountId payer, SignedUsageReceipt receipt, AttestationBundle? attestation, long charged)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        try
        {
            await store.SaveAsync(new ReceiptRecord
            {
                RequestId = requestId,
                Payer = payer.Value,
                WorkerId = receipt.Receipt.WorkerId,
                SignedReceiptJson = receipt.ToJson(),
                AttestationJson = attestation is null ? string.Empty : _attestations.GetValue(attestation, static b => b.ToJson()),
                ChargedNanotons = charged,
                CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogStoreFailed(logger, requestId, e);
        }
    }

    [LoggerMessage(EventId = LogEvents.Receipts + 1, Level = LogLevel.Error, Message = "Storing the receipt of request {RequestId} failed; the answer was billed, the receipt cannot be fetched")]
    private static partial void LogStoreFailed(ILogger logger, string requestId, Exception exception);
}
