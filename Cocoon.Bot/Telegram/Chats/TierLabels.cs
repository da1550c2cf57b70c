using Cocoon.Engine.Matching;

namespace Cocoon.Bot.Telegram.Chats;

/// <summary>How the bot names a trust tier to users: in the line under every answer, in /privacy and in /tier.</summary>
public static class TierLabels
{
    /// <summary>The line under an answer: the tier it was served in, in words.</summary>
    public static string Footer(string tier) => tier switch
    {
        TrustTiers.Tee => "🔒 tier: tee (hardware-attested worker)",
        TrustTiers.Simulated => "🧪 tier: simulated (development worker, no hardware guarantee)",
        _ => "⚠️ tier: consumer (no TEE: the provider's machine can see your prompt)",
    };

    /// <summary>What a tier promises, for /privacy and /tier.</summary>
    public static string Explain(string tier) => tier switch
    {
        TrustTiers.Tee => "tee: a hardware TEE report verified by the gateway before your prompt was sealed to it",
        TrustTiers.Simulated => "simulated: the worker's keys and measurement are checked, but no hardware enclave vouches for them (testing only)",
        _ => "consumer: a provider's own GPU without a TEE; your prompt is encrypted in transit but the provider's machine can read it",
    };

    /// <summary>"tee, simulated" for a list; "the network's default (…)" when the user has not chosen.</summary>
    public static string Describe(IReadOnlyList<string>? chosen, IReadOnlyList<string> networkDefault) =>
        chosen is null ? $"the network's default ({string.Join(", ", networkDefault)})" : string.Join(", ", chosen);
}
