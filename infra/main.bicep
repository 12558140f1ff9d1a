// kvbackup on Azure: a Flex Consumption Function App (Node 22) with a user-assigned managed identity,
// identity-only storage, Application Insights, and the least-privileged role on each vault it may touch.
// Deployed with `azd up` (see azure.yaml); parameters come from main.parameters.json.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names the resource group and seeds resource names.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer Flex Consumption.')
param location string

@description('Key Vaults the app may back up (and restore into when allowRestore is true). Each must use the Azure RBAC permission model.')
param keyVaults vaultAccess[] = []

@description('Managed HSMs the app may back up/restore. Their data-plane roles are HSM-local: assign them after deployment (see docs/operations.md).')
param managedHsms hsmAccess[] = []

@description('Principal (object) id of the user-assigned identity attached to the Managed HSMs for full backup/restore. It gets Storage Blob Data Contributor on the HSM backup container; without it, grant that role yourself.')
param hsmStorageIdentityPrincipalId string = ''

@description('NCRONTAB schedule of the scheduled backup, in UTC.')
param schedule string = '0 0 2 * * *'

@minValue(1)
param retentionDays int = 30

@minValue(1)
param retentionMinComplete int = 7

param retentionDryRun bool = false

@description('Days that deleted blobs, deleted containers and previous blob versions are kept in the backup account.')
@minValue(1)
@maxValue(365)
param backupSoftDeleteDays int = 30

@description('Email address the monitoring alerts (job failed or partial, no recent complete backup, timer did not run) go to. Empty: the alerts notify no one.')
param alertEmail string = ''

@description('A target whose newest complete backup is older than this many hours raises an alert (1-47).')
@minValue(1)
@maxValue(47)
param staleAfterHours int = 26

@description('No scheduled run for this many hours raises an alert (1-47).')
@minValue(1)
@maxValue(47)
param timerMissedAfterHours int = 26

@description('DNS suffix of Managed HSMs in this cloud.')
param managedHsmDnsSuffix string = '.managedhsm.azure.net'

@description('A vault the app may name, and whether it may restore into it.')
type vaultAccess = {
  @description('Key Vault name (the first label of https://<name>.vault.azure.net).')
  name: string
  @description('Resource group of the vault.')
  resourceGroup: string
  @description('Subscription of the vault; defaults to the deployment subscription.')
  subscriptionId: string?
  @description('true: Key Vault Crypto Officer (backup and restore); false: Key Vault Crypto User (backup only).')
  allowRestore: bool
}

type hsmAccess = {
  @description('Managed HSM name (the first label of https://<name>.managedhsm.azure.net).')
  name: string
}

var tags = { 'azd-env-name': environmentName }
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module app 'resources.bicep' = {
  name: 'kvbackup-resources'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    allowedVaults: join(map(keyVaults, v => 'https://${v.name}${environment().suffixes.keyvaultDns}'), ',')
    allowedHsms: join(map(managedHsms, h => 'https://${h.name}${managedHsmDnsSuffix}'), ',')
    hasHsms: !empty(managedHsms)
    hsmStorageIdentityPrincipalId: hsmStorageIdentityPrincipalId
    schedule: schedule
    retentionDays: retentionDays
    retentionMinComplete: retentionMinComplete
    retentionDryRun: retentionDryRun
    backupSoftDeleteDays: backupSoftDeleteDays
    alertEmail: alertEmail
    staleAfterHours: staleAfterHours
    timerMissedAfterHours: timerMissedAfterHours
  }
}

// One role assignment per vault, in the vault's own resource group (and subscription).
module vaultRoles 'modules/vault-access.bicep' = [
  for (vault, i) in keyVaults: {
    name: 'kvbackup-vault-access-${i}'
    scope: resourceGroup(vault.?subscriptionId ?? subscription().subscriptionId, vault.resourceGroup)
    params: {
      vaultName: vault.name
      principalId: app.outputs.identityPrincipalId
      allowRestore: vault.allowRestore
    }
  }
]

output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output KVBACKUP_API_BASE_URL string = 'https://${app.outputs.defaultHostName}/api'
output KVBACKUP_IDENTITY_PRINCIPAL_ID string = app.outputs.identityPrincipalId
output KVBACKUP_STORAGE string = app.outputs.backupBlobEndpoint
output KVBACKUP_HSM_BACKUP_CONTAINER_URL string = app.outputs.hsmBackupContainerUrl
output APPLICATIONINSIGHTS_NAME string = app.outputs.applicationInsightsName
output KVBACKUP_WORKBOOK_ID string = app.outputs.workbookId
