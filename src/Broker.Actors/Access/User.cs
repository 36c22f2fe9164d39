namespace Broker.Actors.Access;

/// <summary>
/// A user: the salted password hash as RabbitMQ stores it (see PasswordHashing) and its tags
/// (administrator, monitoring, management, policymaker, or any other word).
/// </summary>
public sealed record User(string Name, string PasswordHash, string HashingAlgorithm, string[] Tags)
{
    public const string Administrator = "administrator";
    public const string Monitoring = "monitoring";
    public const string Management = "management";
    public const string Policymaker = "policymaker";

    public bool Has(string tag) => Tags.Contains(tag, StringComparer.Ordinal);

    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsAdministrator => Has(Administrator);

    /// <summary>May set and clear policies: administrators and policymakers, as in RabbitMQ.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool MayManagePolicies => IsAdministrator || Has(Policymaker);
}
