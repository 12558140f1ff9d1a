// Portal monitoring of kvbackup: a workbook (jobs per vault and HSM over time, job runs with duration and
// objects, failures, last complete backup and its age per target, running jobs, scheduled runs) and three
// log alerts with an email action group. Every query is a file of its own in queries/, shared by the
// workbook and the alerts and checked in the test suite (test/monitoring/kql.test.ts) against the JSON
// log lines the app writes (src/monitoring/log-events.ts). What each alert means: docs/operations.md.

param location string
param tags object
param resourceToken string

@description('Resource id of the Application Insights component the app sends its logs to.')
param applicationInsightsId string

@description('Email address the alerts go to. Empty: the alerts are created, but notify no one.')
param alertEmail string = ''

@description('A target whose newest complete backup is older than this many hours raises the "backup is stale" alert. The alert looks 48 hours back, so at most 47.')
@minValue(1)
@maxValue(47)
param staleAfterHours int = 26

@description('No scheduled run for this many hours raises the "timer did not run" alert (at most 47).')
@minValue(1)
@maxValue(47)
param timerMissedAfterHours int = 26

var queries = {
  jobsOverTime: loadTextContent('queries/jobs-over-time.kql')
  jobRuns: loadTextContent('queries/job-runs.kql')
  runningJobs: loadTextContent('queries/running-jobs.kql')
  jobFailures: loadTextContent('queries/job-failures.kql')
  lastCompleteBackup: replace(loadTextContent('queries/last-complete-backup.kql'), 'let staleAfter = 26h;', 'let staleAfter = ${staleAfterHours}h;')
  timerRuns: replace(loadTextContent('queries/timer-runs.kql'), 'let timerMissedAfter = 26h;', 'let timerMissedAfter = ${timerMissedAfterHours}h;')
}

var actionGroupName = 'ag-kvbackup-${resourceToken}'
// A plain resource id, valid whether or not the group is deployed.
var actionGroupIds = empty(alertEmail) ? [] : [resourceId('Microsoft.Insights/actionGroups', actionGroupName)]
var runbook = 'docs/operations.md, section "Alerts"'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'kvbackup'
    enabled: true
    emailReceivers: [
      {
        name: 'kvbackup-operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// ------------------------------------------------------------------ alerts

resource jobFailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'kvbackup-job-failed-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'kvbackup: a job failed or ended partial'
    description: 'A backup or restore job failed, or ended with some keys failed, or the timer could not start a job or apply retention. ${runbook}.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    scopes: [applicationInsightsId]
    criteria: {
      allOf: [
        {
          query: queries.jobFailures
          timeAggregation: 'Count'
          dimensions: [
            { name: 'target', operator: 'Include', values: ['*'] }
            { name: 'state', operator: 'Include', values: ['*'] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    // Each failure is its own event: it does not resolve by itself.
    autoMitigate: false
    actions: { actionGroups: actionGroupIds }
  }
  dependsOn: [actionGroup]
}

resource staleBackupAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'kvbackup-backup-stale-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'kvbackup: a vault or HSM has no recent complete backup'
    description: 'The newest complete backup of a configured target is older than ${staleAfterHours} hours (or there is none). ${runbook}.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    scopes: [applicationInsightsId]
    criteria: {
      allOf: [
        {
          query: queries.lastCompleteBackup
          timeAggregation: 'Count'
          dimensions: [
            { name: 'target', operator: 'Include', values: ['*'] }
            { name: 'status', operator: 'Include', values: ['stale'] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    // Resolves once a complete backup of the target lands.
    autoMitigate: true
    actions: { actionGroups: actionGroupIds }
  }
  dependsOn: [actionGroup]
}

resource timerMissedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'kvbackup-timer-missed-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'kvbackup: the scheduled backup did not run'
    description: 'No scheduled run was logged for ${timerMissedAfterHours} hours: the app is stopped, failing to start, or its schedule is wrong. ${runbook}.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    scopes: [applicationInsightsId]
    criteria: {
      allOf: [
        {
          query: queries.timerRuns
          timeAggregation: 'Count'
          dimensions: [
            { name: 'status', operator: 'Include', values: ['missed'] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: actionGroupIds }
  }
  dependsOn: [actionGroup]
}

// ------------------------------------------------------------------ workbook

var last2Days = { durationMs: 172800000 }

func queryItem(name string, title string, query string, visualization string) object => {
  type: 3
  name: name
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: query
    size: 0
    queryType: 0
    resourceType: 'microsoft.insights/components'
    timeContextFromParameter: 'TimeRange'
    visualization: visualization
  }
}

func fixedRangeQueryItem(name string, title string, query string, visualization string, timeContext object) object => {
  type: 3
  name: name
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: query
    size: 0
    queryType: 0
    resourceType: 'microsoft.insights/components'
    timeContext: timeContext
    visualization: visualization
  }
}

var workbookContent = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      name: 'intro'
      content: {
        json: '## kvbackup\nBackups of the configured Key Vaults and Managed HSMs, from the app\'s log lines. What the alerts mean and what to do: ${runbook}.'
      }
    }
    fixedRangeQueryItem('last-complete', 'Last complete backup per target (age in hours; stale after ${staleAfterHours} h)', queries.lastCompleteBackup, 'table', last2Days)
    fixedRangeQueryItem('timer', 'Scheduled runs (last 2 days)', queries.timerRuns, 'table', last2Days)
    {
      type: 9
      name: 'parameters'
      content: {
        version: 'KqlParameterItem/1.0'
        style: 'pills'
        queryType: 0
        resourceType: 'microsoft.insights/components'
        parameters: [
          {
            id: 'b5f5a2a4-6c1e-4bb4-9a51-3f1f4a8c0d01'
            version: 'KqlParameterItem/1.0'
            name: 'TimeRange'
            label: 'Time range'
            type: 4
            isRequired: true
            value: { durationMs: 604800000 }
            typeSettings: {
              selectableValues: [
                { durationMs: 86400000 }
                { durationMs: 604800000 }
                { durationMs: 1209600000 }
                { durationMs: 2592000000 }
              ]
              allowCustom: true
            }
          }
        ]
      }
    }
    queryItem('running', 'Running jobs', queries.runningJobs, 'table')
    queryItem('jobs-over-time', 'Jobs per vault and HSM per day, by how they ended', queries.jobsOverTime, 'barchart')
    queryItem('failures', 'Failed and partial jobs, scheduled work that could not run', queries.jobFailures, 'table')
    queryItem('runs', 'Job runs: duration, keys, versions, size', queries.jobRuns, 'table')
  ]
  fallbackResourceIds: [applicationInsightsId]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, applicationInsightsId, 'kvbackup-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'kvbackup backups'
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: string(workbookContent)
  }
}

output workbookId string = workbook.id
output actionGroupId string = empty(alertEmail) ? '' : actionGroupIds[0]
