using System.Globalization;
using System.Text;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Providers;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Network.Access;
using Cocoon.Network.Providers;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Payouts;
using Cocoon.Ledger.Ton;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Providers;

/// <summary>
/// GPU owners sell inference through the bot: /provider register asks for GPU, VRAM, region, price coefficient
/// and a TON payout address (checked with its checksum), then issues the worker token. The rest reads and changes
/// what ProviderDirectory and the ledger hold. The registration in progress is kept in Redis (no secrets in it)
/// so it survives a restart, and expires after half an hour.
/// </summary>
public sealed partial class ProviderCommands(
    ProviderDirectory directory,
    IConnectionMultiplexer redis,
    TelegramKeys keys,
    ILedger ledger,
    ChatSender sender,
    TimeProvider time,
    ILogger<ProviderCommands> logger,
    IConfiguration configuration,
    ProviderWorkerControl control,
    ProviderStatus status,
    Cocoon.Bot.Providers.ProviderPayouts payouts,
    ILedgerAccounts? accounts = null,
    Slashing.ProviderStakeReport? stakeReport = null)
{
    /// <summary>The join URL workers use: Gateway:Join:Url, else the gateway's own URL (Gateway:Url) and the join path.</summary>
    public string JoinUrl => configuration["Gateway:Join:Url"] is { Length: > 0 } url
        ? url
        : (configuration["Gateway:Url"] is { Length: > 0 } gateway ? gateway : Network.Hosting.CocoonEnvironment.DefaultHttp).TrimEnd('/') + Join.JoinEndpoints.Path;

    private static readonly TimeSpan DraftTtl = TimeSpan.FromMinutes(30);

    public const string AddressHelp =
        "That is not a valid TON address. Send the wallet address you want payouts on: either user-friendly " +
        "(48 characters like EQ… or UQ…, with its checksum) or raw (workchain:64 hex digits, e.g. 0:83df…).";

    /// <summary>True when the user is in the middle of /provider register (their next text answers a question).</summary>
    public async Task<bool> InRegistrationAsync(long userId, CancellationToken cancellationToken) =>
        await redis.GetDatabase().KeyExistsAsync(keys.ProviderDraft(userId)).WaitAsync(cancellationToken).ConfigureAwait(false);

    public async Task HandleCommandAsync(long chatId, long userId, string? username, string args, CancellationToken cancellationToken)
    {
        var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sub = parts.Length > 0 ? parts[0].ToLowerInvariant() : string.Empty;
        switch (sub)
        {
            case "register":
                await redis.GetDatabase().HashSetAsync(keys.ProviderDraft(userId), [new("step", "gpu"), new("username", username ?? string.Empty)]).WaitAsync(cancellationToken).ConfigureAwait(false);
                await redis.GetDatabase().KeyExpireAsync(keys.ProviderDraft(userId), DraftTtl).WaitAsync(cancellationToken).ConfigureAwait(false);
                // Registering again makes another provider with its own token; someone who only wants payouts elsewhere
                // is told the command that changes the address of the provider they have.
                var existing = await directory.ListByOwnerAsync(userId, cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, "Let's register your GPU. (Send /provider cancel to stop.)\n\n" +
                    (existing.Count == 0
                        ? string.Empty
                        : $"You already have provider {string.Join(", ", existing.Select(p => p.ProviderId))}; this registers another one with its own worker token. " +
                          "To change where you are paid, send /provider cancel and then /provider address <TON address>. One token serves any number of workers.\n\n") +
                    "1/5 Which GPU will run the worker? (e.g. RTX 4090, A100, CPU)", cancellationToken).ConfigureAwait(false);
                return;
            case "cancel":
                await redis.GetDatabase().KeyDeleteAsync(keys.ProviderDraft(userId)).WaitAsync(cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, "Registration cancelled.", cancellationToken).ConfigureAwait(false);
                return;
            case "status":
                await StatusAsync(chatId, userId, cancellationToken).ConfigureAwait(false);
                return;
            case "earnings":
                await EarningsAsync(chatId, userId, cancellationToken).ConfigureAwait(false);
                return;
            case "price":
                await PriceAsync(chatId, userId, parts.Skip(1).ToArray(), cancellationToken).ConfigureAwait(false);
                return;
            case "pause" or "resume":
                await PauseAsync(chatId, userId, sub == "pause", parts.Skip(1).FirstOrDefault(), cancellationToken).ConfigureAwait(false);
                return;
            case "revoke":
                await RevokeAsync(chatId, userId, parts.Skip(1).FirstOrDefault(), cancellationToken).ConfigureAwait(false);
                return;
            case "key":
                await KeyAsync(chatId, userId, parts.Skip(1).ToArray(), cancellationToken).ConfigureAwait(false);
                return;
            case "payout":
                await PayoutAsync(chatId, userId, parts.Skip(1).FirstOrDefault(), cancellationToken).ConfigureAwait(false);
                return;
            case "address":
                await AddressAsync(chatId, userId, parts.Skip(1).ToArray(), cancellationToken).ConfigureAwait(false);
                return;
            case "stake":
                await StakeAsync(chatId, userId, parts.Skip(1).FirstOrDefault(), cancellationToken).ConfigureAwait(false);
                return;
            default:
                await sender.SendAsync(chatId,
                    "Sell inference with your GPU:\n/provider register – register and get a worker token\n/provider status – workers online, attestation, load\n" +
                    "/provider earnings – today, 7 days, total, pending payout\n/provider price <coefficient> – e.g. 1.2 for 1.2× the base price\n" +
                    "/provider pause | resume – stop or restart taking jobs\n/provider revoke – new worker token, old one's workers disconnected\n" +
                    "/provider key <public key> – register or replace your provider key (./cocoon provider keygen prints it); workers need certificates signed by it\n/provider payout – pay your earnings to your TON address\n" +
                    "/provider address <TON address> – change the wallet your payouts go to (and your stake is read for)\n" +
                    "/provider stake – your stake on chain, what your workers need, slashes, and how to deposit or withdraw",
                    cancellationToken).ConfigureAwait(false);
                return;
        }
    }

    /// <summary>One answer of the registration conversation.</summary>
    public async Task AnswerAsync(long chatId, long userId, string text, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var key = keys.ProviderDraft(userId);
        var draft = (await db.HashGetAllAsync(key).WaitAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
        var answer = text.Trim();
        switch (draft.GetValueOrDefault("step"))
        {
            case "gpu":
                if (answer.Length is 0 or > 64)
                {
                    await sender.SendAsync(chatId, "Please name the GPU in at most 64 characters.", cancellationToken).ConfigureAwait(false);
                    return;
                }

                await NextAsync(key, "gpu", answer, "vram", cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, "2/5 How much VRAM does it have, in GB? (e.g. 24)", cancellationToken).ConfigureAwait(false);
                return;
            case "vram":
                if (!int.TryParse(answer.Replace("GB", string.Empty, StringComparison.OrdinalIgnoreCase).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var vram) || vram is < 1 or > 4096)
                {
                    await sender.SendAsync(chatId, "Please send the VRAM as a whole number of GB between 1 and 4096.", cancellationToken).ConfigureAwait(false);
                    return;
                }

                await NextAsync(key, "vram", vram.ToString(CultureInfo.InvariantCulture), "region", cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, "3/5 Where is it? A region code such as eu, us-east or asia.", cancellationToken).ConfigureAwait(false);
                return;
            case "region":
                if (answer.Length is 0 or > 32 || !answer.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                {
                    await sender.SendAsync(chatId, "Please send a short region code (letters, digits and -), e.g. eu.", cancellationToken).ConfigureAwait(false);
                    return;
                }

                await NextAsync(key, "region", answer.ToLowerInvariant(), "coefficient", cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, "4/5 Your price coefficient on the network's base price per token: 1 = base price, 0.8 = cheaper, 1.5 = dearer.", cancellationToken).ConfigureAwait(false);
                return;
            case "coefficient":
                if (ParseCoefficient(answer) is not { } coefficient)
                {
                    await sender.SendAsync(chatId, "Please send a number between 0.001 and 100, e.g. 1 or 1.25.", cancellationToken).ConfigureAwait(false);
                    return;
                }

                await NextAsync(key, "coefficient", coefficient.ToString(CultureInfo.InvariantCulture), "address", cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, "5/5 Your TON wallet address for payouts.", cancellationToken).ConfigureAwait(false);
                return;
            case "address":
                if (!TonAddress.TryParse(answer, out var address) || address is null)
                {
                    await sender.SendAsync(chatId, AddressHelp, cancellationToken).ConfigureAwait(false);
                    return;
                }

                await RegisterAsync(chatId, userId, draft, address, cancellationToken).ConfigureAwait(false);
                return;
            default:
                await db.KeyDeleteAsync(key).WaitAsync(cancellationToken).ConfigureAwait(false);
                return;
        }
    }

    private async Task RegisterAsync(long chatId, long userId, Dictionary<string, string> draft, TonAddress address, CancellationToken cancellationToken)
    {
        var name = $"{draft["gpu"]} · {draft["vram"]} GB · {draft["region"]}";
        var username = draft.GetValueOrDefault("username");
        var registration = await directory.RegisterAsync(
            new ProviderProfile(name, userId, address.ToFriendly(), username is { Length: > 0 } ? "@" + username : null),
            cancellationToken).ConfigureAwait(false);
        var coefficient = int.Parse(draft["coefficient"], CultureInfo.InvariantCulture);
        await directory.SetPriceCoefficientAsync(registration.ProviderId, coefficient, cancellationToken).ConfigureAwait(false);
        LogRegistered(logger, registration.ProviderId, userId);

        // The wizard is over once the provider exists, before the answer goes out: whoever reads the answer (the user,
        // or a test) finds the chat back in normal mode.
        await redis.GetDatabase().KeyDeleteAsync(keys.ProviderDraft(userId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        await sender.SendAsync(chatId,
            $"Registered provider {registration.ProviderId} ({name}), price ×{coefficient / 1000.0:0.###}, payouts to {address.ToFriendly()}.\n\n" +
            $"Your worker token (shown once; keep it secret, /provider status never shows it again):\n{registration.WorkerToken}\n\n" +
            "Start a worker with it on your GPU machine, in a clone of the Cocoon repository (one worker per model):\n" +
            $"COCOON_WORKER_TOKEN={registration.WorkerToken} COCOON_JOIN_URL={JoinUrl} ./cocoon worker --model /path/to/model.gguf\n\n" +
            "The worker joins the network with the token and gets its own Redis credentials from the gateway. " +
            "If the network refuses it, the worker and /provider status say why and what to do.\n\n" +
            "Recommended: sign your workers' keys with a provider key of your own, so a stolen token alone cannot bring a worker in. " +
            "In the same folder, before starting the worker, run\n./cocoon provider keygen\n" +
            "and send me the /provider key line it prints. From then on every worker needs a certificate signed by that key; " +
            "./cocoon worker signs one by itself when it finds the key (provider.key in its data folder, or COCOON_PROVIDER_KEY).",
            cancellationToken).ConfigureAwait(false);
    }

    private async Task KeyAsync(long chatId, long userId, string[] args, CancellationToken cancellationToken)
    {
        if (args.Length > 0 && !ProviderDirectory.IsProviderKey(args[0]))
        {
            await sender.SendAsync(chatId,
                "That is not a provider key. Run ./cocoon provider keygen on your worker machine and send the line it prints: /provider key followed by 64 hex digits.",
                cancellationToken).ConfigureAwait(false);
            return;
        }

        if (await PickAsync(chatId, userId, args.Length > 1 ? args[1] : null, cancellationToken).ConfigureAwait(false) is not { } provider)
        {
            return;
        }

        if (args.Length == 0)
        {
            await sender.SendAsync(chatId, provider.ProviderKey is { } current
                ? $"{provider.ProviderId}: provider key {current}. Replace it with /provider key <new public key> (./cocoon provider keygen --rotate makes one)."
                : $"{provider.ProviderId}: no provider key registered. Run ./cocoon provider keygen on your worker machine and send the /provider key line it prints.",
                cancellationToken).ConfigureAwait(false);
            return;
        }

        var changed = await control.SetProviderKeyAsync(provider.ProviderId, args[0], cancellationToken).ConfigureAwait(false);
        var replaced = provider.ProviderKey is { } old && old != changed!.ProviderKey ? old : null;
        LogKeyRegistered(logger, provider.ProviderId, changed!.ProviderKey!, replaced is not null);
        await sender.SendAsync(chatId,
            $"{provider.ProviderId}: provider key {ProviderWorkerControl.KeyPrefix(changed.ProviderKey!)} registered. Every worker now needs a certificate signed by it; " +
            "./cocoon worker signs one when it finds the key (provider.key in its data folder, or COCOON_PROVIDER_KEY)." +
            (replaced is null
                ? " Workers that joined without one are disconnected; restart them where the key is."
                : $" The old key {ProviderWorkerControl.KeyPrefix(replaced)} is revoked: its workers are disconnected and refused; restart them with the new key."),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task StatusAsync(long chatId, long userId, CancellationToken cancellationToken)
    {
        var providers = await directory.ListByOwnerAsync(userId, cancellationToken).ConfigureAwait(false);
        if (providers.Count == 0)
        {
            await sender.SendAsync(chatId, "You have no provider yet: /provider register.", cancellationToken).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        foreach (var p in providers)
        {
            text.Append(ProviderStatus.Format(await status.BuildAsync(p, cancellationToken).ConfigureAwait(false))).Append('\n');
        }

        var probation = Engine.Reputation.ProbationPolicy.Default;
        text.Append(CultureInfo.InvariantCulture, $"A worker whose reputation falls below the network's floor (Gateway:ReputationFloor, 0.85 unless the network set another) gets no jobs, only the network's canaries (probation): {probation.PassesToReturn} passed in a row with its score {probation.Margin:0.00} above the floor bring it back; {probation.FailuresToBar} wrong canary answer, {probation.SlowToBar} slower than its class or {probation.MaxCanaries} canaries in all bar it. ");
        text.Append("The same report as JSON: GET " + ProviderStatusEndpoint.Path + " with your worker token as Bearer.");
        await sender.SendAsync(chatId, text.ToString(), cancellationToken).ConfigureAwait(false);
    }

    private async Task RevokeAsync(long chatId, long userId, string? providerId, CancellationToken cancellationToken)
    {
        if (await PickAsync(chatId, userId, providerId, cancellationToken).ConfigureAwait(false) is not { } provider)
        {
            return;
        }

        var token = await control.RevokeAsync(provider.ProviderId, cancellationToken).ConfigureAwait(false);
        await sender.SendAsync(chatId,
            $"{provider.ProviderId}: the old worker token is revoked and its workers are disconnected. Your new worker token (shown once):\n{token}\n\n" +
            $"Restart your workers with it:\nCOCOON_WORKER_TOKEN={token} COCOON_JOIN_URL={JoinUrl} ./cocoon worker --model /path/to/model.gguf",
            cancellationToken).ConfigureAwait(false);
    }

    private async Task EarningsAsync(long chatId, long userId, CancellationToken cancellationToken)
    {
        var providers = await directory.ListByOwnerAsync(userId, cancellationToken).ConfigureAwait(false);
        if (providers.Count == 0)
        {
            await sender.SendAsync(chatId, "You have no provider yet: /provider register.", cancellationToken).ConfigureAwait(false);
            return;
        }

        var now = time.GetUtcNow();
        var text = new StringBuilder();
        foreach (var p in providers)
        {
            var account = AccountId.Provider(p.ProviderId);
            var pending = await ledger.GetBalanceAsync(account, cancellationToken).ConfigureAwait(false);
            text.Append(CultureInfo.InvariantCulture, $"{p.ProviderId} · {p.Profile.Name}\n");
            if (accounts is not null)
            {
                var day = await accounts.GetActivitySinceAsync(account, now.AddDays(-1), cancellationToken).ConfigureAwait(false);
                var week = await accounts.GetActivitySinceAsync(account, now.AddDays(-7), cancellationToken).ConfigureAwait(false);
                var total = await accounts.GetActivitySinceAsync(account, DateTimeOffset.UnixEpoch, cancellationToken).ConfigureAwait(false);
                text.Append(CultureInfo.InvariantCulture, $"Last 24 h: {Money.Ton(day.Received)}\nLast 7 days: {Money.Ton(week.Received)}\nTotal: {Money.Ton(total.Received)}\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"Pending payout: {Money.Ton(pending)}\n\n");
        }

        await sender.SendAsync(chatId, text.ToString().TrimEnd(), cancellationToken).ConfigureAwait(false);
    }

    private async Task PriceAsync(long chatId, long userId, string[] args, CancellationToken cancellationToken)
    {
        if (await PickAsync(chatId, userId, args.Length > 1 ? args[1] : null, cancellationToken).ConfigureAwait(false) is not { } provider)
        {
            return;
        }

        if (args.Length == 0)
        {
            await sender.SendAsync(chatId, $"{provider.ProviderId}: price ×{(provider.PriceCoefficient ?? 1000) / 1000.0:0.###}. Change it with /provider price 1.2", cancellationToken).ConfigureAwait(false);
            return;
        }

        if (ParseCoefficient(args[0]) is not { } coefficient)
        {
            await sender.SendAsync(chatId, "Please give a number between 0.001 and 100, e.g. /provider price 1.2", cancellationToken).ConfigureAwait(false);
            return;
        }

        await directory.SetPriceCoefficientAsync(provider.ProviderId, coefficient, cancellationToken).ConfigureAwait(false);
        await sender.SendAsync(chatId, $"{provider.ProviderId}: price is now ×{coefficient / 1000.0:0.###} for new jobs.", cancellationToken).ConfigureAwait(false);
    }

    private async Task PauseAsync(long chatId, long userId, bool pause, string? providerId, CancellationToken cancellationToken)
    {
        if (await PickAsync(chatId, userId, providerId, cancellationToken).ConfigureAwait(false) is not { } provider)
        {
            return;
        }

        await directory.SetPausedAsync(provider.ProviderId, pause, cancellationToken).ConfigureAwait(false);
        // Joined workers lose (or regain) their Redis access at once, not at the next registry refresh.
        await control.SetPausedAsync(provider.ProviderId, pause, cancellationToken).ConfigureAwait(false);
        await sender.SendAsync(chatId, pause
            ? $"{provider.ProviderId} is paused: its workers get no new jobs (running ones finish)."
            : $"{provider.ProviderId} takes jobs again.", cancellationToken).ConfigureAwait(false);
    }

    private async Task AddressAsync(long chatId, long userId, string[] args, CancellationToken cancellationToken)
    {
        if (await PickAsync(chatId, userId, args.Length > 1 ? args[1] : null, cancellationToken).ConfigureAwait(false) is not { } provider)
        {
            return;
        }

        if (args.Length == 0)
        {
            await sender.SendAsync(chatId, provider.Profile.PayoutAddress is { } current && TonAddress.TryParse(current, out var shown) && shown is not null
                ? $"{provider.ProviderId}: payouts go to {shown.ToFriendly()}. Change it with /provider address <TON address>."
                : $"{provider.ProviderId}: no payout address. Set one with /provider address <TON address>.",
                cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!TonAddress.TryParse(args[0], out var address) || address is null)
        {
            await sender.SendAsync(chatId, AddressHelp + " Usage: /provider address <TON address>", cancellationToken).ConfigureAwait(false);
            return;
        }

        await directory.SetPayoutAddressAsync(provider.ProviderId, address.ToFriendly(), cancellationToken).ConfigureAwait(false);
        LogPayoutAddressChanged(logger, provider.ProviderId, userId);
        await sender.SendAsync(chatId,
            $"{provider.ProviderId}: payouts now go to {address.ToFriendly()}. Payouts already requested keep their address; your stake is read for the new wallet.",
            cancellationToken).ConfigureAwait(false);
    }

    private async Task StakeAsync(long chatId, long userId, string? providerId, CancellationToken cancellationToken)
    {
        if (await PickAsync(chatId, userId, providerId, cancellationToken).ConfigureAwait(false) is not { } provider)
        {
            return;
        }

        await sender.SendAsync(chatId, stakeReport is null
            ? $"{provider.ProviderId} · {provider.Profile.Name}\n{Slashing.ProviderStakeReport.NoStakes}"
            : await stakeReport.FormatAsync(provider, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    private async Task PayoutAsync(long chatId, long userId, string? providerId, CancellationToken cancellationToken)
    {
        if (await PickAsync(chatId, userId, providerId, cancellationToken).ConfigureAwait(false) is not { } provider)
        {
            return;
        }

        var outcome = await payouts.RequestAsync(provider, cancellationToken).ConfigureAwait(false);
        await sender.SendAsync(chatId, Describe(outcome), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A payout outcome in the provider's words (the bot's answer and the Mini App's message).</summary>
    public static string Describe(PayoutOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var to = outcome.Address?.ToFriendly() ?? string.Empty;
        return outcome.Kind switch
        {
            PayoutOutcomeKind.NoAddress => "This provider has no valid payout address; set one with /provider address <TON address>.",
            PayoutOutcomeKind.NothingToPay => "Nothing to pay out yet.",
            PayoutOutcomeKind.BelowMinimum => $"{Money.Ton(outcome.Amount)} is below the minimum payout. Keep earning and ask again later.",
            PayoutOutcomeKind.Requested => $"Payout requested: {Money.Ton(outcome.Amount)} to {to} (request {outcome.RequestId}). It is sent in the next payout batch.",
            PayoutOutcomeKind.Recorded => $"Payout request recorded: {Money.Ton(outcome.Amount)} to {to}.",
            PayoutOutcomeKind.Unavailable => "Payouts are not set up on this gateway (no TON chain); ask its operator.",
            _ => "You already asked for a payout today; it is being processed.",
        };
    }

    private async Task<ProviderInfo?> PickAsync(long chatId, long userId, string? providerId, CancellationToken cancellationToken)
    {
        var providers = await directory.ListByOwnerAsync(userId, cancellationToken).ConfigureAwait(false);
        var chosen = providerId is null
            ? providers.Count == 1 ? providers[0] : null
            : providers.FirstOrDefault(p => p.ProviderId == providerId);
        if (chosen is null)
        {
            await sender.SendAsync(chatId, providers.Count == 0
                ? "You have no provider yet: /provider register."
                : "Which provider? Add its id: " + string.Join(", ", providers.Select(p => p.ProviderId)), cancellationToken).ConfigureAwait(false);
        }

        return chosen;
    }

    /// <summary>"1.25" or "1,25" or "×1.25" → 1250 (1000 = 1.0×); null when out of range.</summary>
    internal static int? ParseCoefficient(string text)
    {
        var t = text.Trim().TrimStart('x', 'X', '×').Replace(',', '.');
        return decimal.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d)
               && (int)Math.Round(d * 1000) is var c and >= ProviderDirectory.MinCoefficient and <= ProviderDirectory.MaxCoefficient
            ? c
            : null;
    }

    private async Task NextAsync(RedisKey key, string field, string value, string nextStep, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        await db.HashSetAsync(key, [new(field, value), new("step", nextStep)]).WaitAsync(cancellationToken).ConfigureAwait(false);
        await db.KeyExpireAsync(key, DraftTtl).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.Providers + 40, Level = LogLevel.Information, Message = "Provider {ProviderId} registered provider key {ProviderKey} (replacing another: {Replaced})")]
    private static partial void LogKeyRegistered(ILogger logger, string providerId, string providerKey, bool replaced);

    [LoggerMessage(EventId = LogEvents.Providers + 41, Level = LogLevel.Information, Message = "Provider {ProviderId} payout address changed by Telegram user {UserId}")]
    private static partial void LogPayoutAddressChanged(ILogger logger, string providerId, long userId);

    [LoggerMessage(EventId = LogEvents.Providers + 1, Level = LogLevel.Information, Message = "Provider {ProviderId} registered by Telegram user {UserId}")]
    private static partial void LogRegistered(ILogger logger, string providerId, long userId);
}
