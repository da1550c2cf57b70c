using System.Text.Json.Nodes;
using Cocoon.Bot.Receipts;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Receipts;
using Cocoon.Ledger.Ton;
using Microsoft.AspNetCore.Mvc;

namespace Cocoon.Bot.MiniApp;

/// <summary>
/// <c>GET /miniapp/api/receipts/{id}</c>: the same receipt document as <c>GET /v1/receipts/{id}</c> (signed receipt,
/// attestation, and once anchored the Merkle proof and the TON transaction), for the Telegram user who paid for the
/// answer only, plus <c>chain_api</c>: the public chain API the page reads the anchor from itself (MiniApp:ChainApiUrl),
/// so the one-tap check does not take the gateway's word for what is on chain.
/// </summary>
internal static class MiniAppReceipts
{
    public static void Map(RouteGroupBuilder api, MiniAppOptions options)
    {
        api.MapGet("/receipts/{id}", async (string id, HttpContext http, ReceiptStore store, [FromServices] NetworkWallet? wallet, CancellationToken ct) =>
        {
            var user = MiniAppEndpoints.CurrentUser(http);
            var found = id.Length is > 0 and <= 200 ? await store.FindAsync(id, AccountId.User(user.Id).Value, ct).ConfigureAwait(false) : null;
            if (found is not { } hit)
            {
                return MiniAppEndpoints.Error(StatusCodes.Status404NotFound, "receipt_not_found", $"No receipt {id} among your answers.");
            }

            var leaves = hit.Anchor is { } anchor ? await store.LeavesAsync(anchor.Id, ct).ConfigureAwait(false) : null;
            var document = ReceiptDocument.Build(hit.Receipt, hit.Anchor, leaves, wallet?.Address.ToRaw());
            document["chain_api"] = string.IsNullOrWhiteSpace(options.ChainApiUrl) ? null : JsonValue.Create(options.ChainApiUrl.TrimEnd('/') + "/");
            return Results.Content(document.ToJsonString(), "application/json");
        });
    }
}
