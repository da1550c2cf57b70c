using System.Security.Claims;
using System.Text.Json.Nodes;
using Cocoon.Bot.Observability;
using Cocoon.Bot.Receipts;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Receipts;

namespace Cocoon.Bot.Api;

/// <summary>
/// <c>GET /v1/receipts/{id}</c>: the worker's signed receipt for one answer, the attestation bundle its key came from,
/// and (once anchored) the Merkle inclusion proof and the TON transaction holding the root. Only the payer of the
/// request gets it; for anyone else the id does not exist (404, the same answer as an unknown id).
/// </summary>
internal static class ReceiptsEndpoint
{
    public static async Task<IResult> GetAsync(string id, ClaimsPrincipal user, ReceiptStore store, ApiMetrics metrics, IServiceProvider services, CancellationToken cancellationToken)
    {
        var found = id.Length is > 0 and <= 200 ? await store.FindAsync(id, user.Payer().Value, cancellationToken) : null;
        if (found is not { } hit)
        {
            metrics.Request("receipts", StatusCodes.Status404NotFound);
            return new ApiProblem(StatusCodes.Status404NotFound, $"No receipt {id} for this API key.", "invalid_request_error", null, "receipt_not_found").ToResult();
        }

        var proof = hit.Anchor is { } anchor ? await store.LeavesAsync(anchor.Id, cancellationToken) : null;
        metrics.Request("receipts", StatusCodes.Status200OK);
        // The wallet exists only where a chain is configured; without one receipts are never anchored.
        var account = services.GetService<Cocoon.Ledger.Ton.NetworkWallet>()?.Address.ToRaw();
        return Results.Content(ReceiptDocument.Build(hit.Receipt, hit.Anchor, proof, account).ToJsonString(), "application/json");
    }
}
