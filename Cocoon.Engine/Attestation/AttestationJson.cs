using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// The one JSON shape of attestation documents, bundles and receipts. Strict on input (unknown members, missing
/// required members and nulls where none are allowed are refused) so that what is verified is what was signed.
/// </summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    WriteIndented = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    Converters = [typeof(UnixMillisecondsConverter), typeof(JsonStringEnumConverter<FinishReason>)])]
[JsonSerializable(typeof(AttestationDocument))]
[JsonSerializable(typeof(AttestationBundle))]
[JsonSerializable(typeof(UsageReceipt))]
[JsonSerializable(typeof(SignedUsageReceipt))]
[JsonSerializable(typeof(AttestationStatement))]
[JsonSerializable(typeof(SignedAttestationStatement))]
public sealed partial class AttestationJson : JsonSerializerContext;

/// <summary>Times as Unix milliseconds: one spelling per instant, whatever offset the value was created with.</summary>
internal sealed class UnixMillisecondsConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var ms))
        {
            throw new JsonException("A time must be an integer number of Unix milliseconds.");
        }

        try
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new JsonException("The time is out of range: " + ms.ToString(CultureInfo.InvariantCulture), e);
        }
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteNumberValue(value.ToUnixTimeMilliseconds());
}
