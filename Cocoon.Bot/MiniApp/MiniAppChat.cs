using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.MiniApp;

public sealed record ChatTurn(string Role, string Content);

public sealed record ChatBody(string? Model, IReadOnlyList<ChatTurn>? Messages);

/// <summary>One server-sent event of a Mini App chat answer: a piece of text, the closing receipt, or an error.</summary>
public sealed record ChatEvent(
    string Type,
    string? Text = null,
    string? RequestId = null,
    string? Model = null,
    int? PromptTokens = null,
    int? CompletionTokens = null,
    long? CostNanotons = null,
    string? WorkerId = null,
    string? AttestationKind = null,
    string? SealedBy = null,
    string? Finish = null,
    string? Code = null,
    string? Message = null);

/// <summary>
/// POST /miniapp/api/chat: the Mini App's conversation turn, through the same dispatcher the bot and the API use
/// (hold, attested worker, sealed job, receipt, settlement), streamed back as server-sent events. The gateway seals
/// the prompt to the worker's attested key here ("sealed_by": "gateway"); client-side sealing needs the nonce-bound
/// attestation endpoint of the receipts issue. The page keeps the conversation: the gateway stores no text, and
/// logs ids, token counts and costs only. Stopping the stream (the page's stop button aborts the fetch) cancels the job.
/// </summary>
internal static class MiniAppChat
{
    private const int MaxMessages = 40;

    public static void Map(RouteGroupBuilder api, MiniAppOptions options, JsonSerializerOptions json, ILogger logger)
    {
        api.MapPost("/chat", async (HttpContext http, IDispatcher dispatcher, MiniAppUsage usage, TimeProvider time, CancellationToken ct) =>
        {
            var user = MiniAppEndpoints.CurrentUser(http);
            ChatBody? body;
            try
            {
                body = await JsonSerializer.DeserializeAsync<ChatBody>(http.Request.Body, json, ct).ConfigureAwait(false);
            }
            catch (JsonException)
            {
                body = null;
            }

            if (body?.Messages is not { Count: > 0 } turns || turns.Count > MaxMessages
                || turns.Any(t => t.Role is not ("user" or "assistant") || string.IsNullOrEmpty(t.Content)) || turns[^1].Role != "user")
            {
                return MiniAppEndpoints.Error(StatusCodes.Status400BadRequest, "invalid_chat",
                    $"Send {{\"model\": \"…\", \"messages\": [{{\"role\": \"user\", \"content\": \"…\"}}]}}: up to {MaxMessages} user/assistant turns, ending with the user's.");
            }

            var model = body.Model;
            if (string.IsNullOrWhiteSpace(model))
            {
                var served = await dispatcher.GetModelsAsync(ct).ConfigureAwait(false);
                model = served.FirstOrDefault(m => m.Workers.Count > 0)?.Name;
                if (model is null)
                {
                    return MiniAppEndpoints.Error(StatusCodes.Status503ServiceUnavailable, "no_model", "No worker is online right now. Please try again in a few minutes.");
                }
            }

            var request = new DispatchRequest
            {
                RequestId = "ma-" + Guid.NewGuid().ToString("N"),
                Payer = AccountId.User(user.Id),
                Model = model,
                Generation = new GenerationRequest
                {
                    Messages = [.. turns.Select(t => new ChatMessage(t.Role, t.Content))],
                    Sampling = new SamplingOptions { MaxTokens = options.MaxAnswerTokens },
                },
            };

            await using var events = dispatcher.DispatchAsync(request, http.RequestAborted).GetAsyncEnumerator(http.RequestAborted);
            bool more;
            try
            {
                more = await events.MoveNextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (Refusal(e) is { } refusal)
            {
                MiniAppLog.ChatRefused(logger, request.RequestId, user.Id, refusal.Code);
                return MiniAppEndpoints.Error(refusal.Status, refusal.Code, refusal.Message);
            }

            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            http.Response.Headers["X-Accel-Buffering"] = "no";
            try
            {
                while (more)
                {
                    switch (events.Current)
                    {
                        case DispatchPiece { Text.Length: > 0 } piece:
                            await WriteAsync(http, new ChatEvent("piece", Text: piece.Text), json).ConfigureAwait(false);
                            break;
                        case DispatchCompleted { Receipt: var r }:
                            await usage.AddAsync(user.Id, time.GetUtcNow(), r.PromptTokens, r.CompletionTokens, r.TotalCostNanotons, CancellationToken.None).ConfigureAwait(false);
                            MiniAppLog.ChatAnswered(logger, r.RequestId, user.Id, r.Model, r.WorkerId, r.PromptTokens, r.CompletionTokens, r.TotalCostNanotons);
                            await WriteAsync(http, new ChatEvent(
                                "done", RequestId: r.RequestId, Model: r.Model, PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
                                CostNanotons: r.TotalCostNanotons, WorkerId: r.WorkerId, AttestationKind: r.AttestationKind, SealedBy: "gateway",
                                Finish: r.FinishReason.ToString().ToLowerInvariant()), json).ConfigureAwait(false);
                            return Results.Empty;
                    }

                    more = await events.MoveNextAsync().ConfigureAwait(false);
                }

                throw new InvalidOperationException("The dispatcher ended the answer without a receipt.");
            }
            catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
            {
                // The page stopped the answer: the dispatcher released or settled the hold for what was generated.
                MiniAppLog.ChatStopped(logger, request.RequestId, user.Id);
                return Results.Empty;
            }
            catch (Exception e)
            {
                // Headers are sent: the only honest signal left is an error event in the stream.
                var refusal = Refusal(e) ?? (StatusCodes.Status502BadGateway, "interrupted", "The answer was interrupted. Nothing more was charged for the missing part.");
                MiniAppLog.ChatFailed(logger, request.RequestId, user.Id, refusal.Code, e);
                await WriteAsync(http, new ChatEvent("error", Code: refusal.Code, Message: refusal.Message), json).ConfigureAwait(false);
                return Results.Empty;
            }
        });
    }

    private static (int Status, string Code, string Message)? Refusal(Exception e) => e switch
    {
        InsufficientFundsException => (StatusCodes.Status402PaymentRequired, "insufficient_funds", "Your balance is too low for this answer. Top up with Stars or TON, then ask again. (Nothing was sent to a worker.)"),
        WorkersBusyException busy => (StatusCodes.Status503ServiceUnavailable, "busy", $"Every worker for this model is busy. Please try again in about {Math.Max(1, (int)Math.Ceiling(busy.RetryAfter.TotalSeconds))} s."),
        ModelUnavailableException => (StatusCodes.Status404NotFound, "no_model", "No attested worker serves this model right now. Pick another model."),
        DispatchFailedException failed => (StatusCodes.Status502BadGateway, failed.Reason, "The answer could not be completed; nothing was charged."),
        _ => null,
    };

    private static async Task WriteAsync(HttpContext http, ChatEvent e, JsonSerializerOptions json)
    {
        await http.Response.WriteAsync("data: " + JsonSerializer.Serialize(e, json) + "\n\n", http.RequestAborted).ConfigureAwait(false);
        await http.Response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
    }
}
